// JDBC (pgjdbc) through Sluice in transaction mode: server-side prepared statements once
// prepareThreshold is reached, more clients than server connections, every result checked.
// usage: java -cp postgresql.jar JdbcDriver.java HOST PORT USER PASSWORD DBNAME
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

public class JdbcDriver {
    static final int CLIENTS = 10;
    static final int ROUNDS = 50;

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[4]
                + "?prepareThreshold=2&sslmode=disable";
        AtomicInteger checked = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new ArrayList<>();
        for (int n = 0; n < CLIENTS; n++) {
            final int id = n;
            Thread t = new Thread(() -> {
                try (Connection conn = DriverManager.getConnection(url, args[2], args[3])) {
                    try (Statement st = conn.createStatement()) {
                        st.execute("SET application_name = 'jdbc-" + id + "'");
                    }
                    for (int i = 0; i < ROUNDS; i++) {
                        try (PreparedStatement ps = conn.prepareStatement(
                                "SELECT ?::int * 3, current_setting('application_name')")) {
                            ps.setInt(1, id * 1000 + i);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                check(rs.getInt(1) == (id * 1000 + i) * 3, "value");
                                check(rs.getString(2).equals("jdbc-" + id), "application_name");
                            }
                        }
                        conn.setAutoCommit(false);
                        try (PreparedStatement ps = conn.prepareStatement("SELECT ?::text || '-tx'")) {
                            ps.setString(1, id + "-" + i);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                                check(rs.getString(1).equals(id + "-" + i + "-tx"), "tx value");
                            }
                        }
                        conn.commit();
                        conn.setAutoCommit(true);
                        checked.addAndGet(2);
                    }
                } catch (Throwable e) {
                    synchronized (failures) { failures.add(e); }
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) t.join();
        if (!failures.isEmpty()) {
            failures.get(0).printStackTrace();
            System.exit(1);
        }
        System.out.println("checked " + checked.get() + " results from " + CLIENTS + " clients");
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError("wrong " + what);
    }
}
