//! A result set Sluice answers itself: RowDescription, DataRows, CommandComplete.

use bytes::BytesMut;
use pgwire::encode::{self, INT8_OID, TEXT_OID};

/// A column's name and whether it holds numbers (so psql aligns it right).
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Text(&'static str),
    Int(&'static str),
}

pub struct ResultSet {
    columns: Vec<Column>,
    rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    pub fn new(columns: &[Column]) -> Self {
        ResultSet {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one value per column.
    pub fn row(&mut self, values: Vec<Option<String>>) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.rows.push(values);
    }

    /// Appends the messages to `buf`, with `SHOW` as the command tag (as PgBouncer does).
    pub fn write(&self, buf: &mut BytesMut) {
        let columns: Vec<(&str, u32)> = self
            .columns
            .iter()
            .map(|c| match c {
                Column::Text(name) => (*name, TEXT_OID),
                Column::Int(name) => (*name, INT8_OID),
            })
            .collect();
        encode::row_description(buf, &columns);
        for row in &self.rows {
            let values: Vec<Option<&str>> = row.iter().map(Option::as_deref).collect();
            encode::data_row(buf, &values);
        }
        encode::command_complete(buf, "SHOW");
    }
}

/// A present value, as text.
pub fn v(value: impl ToString) -> Option<String> {
    Some(value.to_string())
}
