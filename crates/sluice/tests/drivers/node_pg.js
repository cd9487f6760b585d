// node-postgres through Sluice in transaction mode: named queries (server-side prepared
// statements), more clients than server connections, every result checked.
// usage: node node_pg.js HOST PORT USER PASSWORD DBNAME
const { Client } = require('pg');

const [host, port, user, password, database] = process.argv.slice(2);
const CLIENTS = 10;
const ROUNDS = 50;

async function run(id) {
  const client = new Client({ host, port: Number(port), user, password, database });
  await client.connect();
  let checked = 0;
  try {
    await client.query("SET TIME ZONE 'Pacific/Auckland'");
    for (let i = 0; i < ROUNDS; i++) {
      const r = await client.query({ name: 'times-two', text: 'SELECT $1::int * 2 AS v', values: [id * 1000 + i] });
      if (r.rows[0].v !== (id * 1000 + i) * 2) throw new Error(`wrong value ${r.rows[0].v}`);
      const tz = await client.query({ name: 'tz', text: 'SELECT current_setting($1) AS tz', values: ['TimeZone'] });
      if (tz.rows[0].tz !== 'Pacific/Auckland') throw new Error(`wrong TimeZone ${tz.rows[0].tz}`);
      await client.query('BEGIN');
      const t = await client.query({ name: 'in-tx', text: "SELECT $1::text || '-tx' AS v", values: [`${id}-${i}`] });
      if (t.rows[0].v !== `${id}-${i}-tx`) throw new Error(`wrong tx value ${t.rows[0].v}`);
      await client.query('COMMIT');
      checked += 3;
    }
  } finally {
    await client.end();
  }
  return checked;
}

Promise.all([...Array(CLIENTS).keys()].map(run)).then(
  (counts) => console.log(`checked ${counts.reduce((a, b) => a + b, 0)} results from ${CLIENTS} clients`),
  (err) => { console.error(err); process.exit(1); },
);
