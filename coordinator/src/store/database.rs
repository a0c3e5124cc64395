//! The store's connection to its database: SQLite in the data directory (the embedded default)
//! or PostgreSQL (`postgres://...`, what a studio shares between coordinators). The store's SQL is
//! written once, in what both accept; values cross as [`Value`]s, so that neither engine's types
//! reach the store.
//!
//! PostgreSQL's client blocks on a runtime of its own, which must not run inside the
//! coordinator's: each PostgreSQL connection lives on a thread of its own, and calls wait for
//! its answer as they wait for SQLite.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Not a `source`: its message is given whole here, and callers print chains.
    #[error("{}", postgres_message(.0))]
    Postgres(postgres::Error),
    #[error("the query returned no row")]
    NoRow,
    #[error("no column '{0}'")]
    NoColumn(String),
    #[error("column {column} holds {found}, not {wanted}")]
    Type {
        column: String,
        wanted: &'static str,
        found: &'static str,
    },
    #[error("column {column} has type {found}, which the store does not read")]
    Unsupported { column: String, found: String },
    #[error("the connection to PostgreSQL ended")]
    Disconnected,
    #[error("cannot read the PostgreSQL connection string: {0}")]
    Location(String),
}

impl DbError {
    /// Whether the server refused in a way asking again will not change: a wrong password or
    /// role (SQLSTATE class 28), no such database (3D000), a query it cannot run (class 42).
    /// Anything else (no answer, shutting down, starting up, too many connections) may pass.
    pub fn is_refusal(&self) -> bool {
        match self {
            DbError::Postgres(e) => e.as_db_error().is_some_and(|db| {
                let code = db.code().code();
                code.starts_with("28") || code == "3D000" || code.starts_with("42")
            }),
            DbError::Disconnected => false,
            _ => true,
        }
    }

    /// Whether the database refused these values themselves, so that the same statement with
    /// them fails every time: a data exception or a broken rule (SQLSTATE classes 22 and 23;
    /// SQLite's constraint, type and size errors). Retrying them would never end.
    pub fn is_permanent(&self) -> bool {
        match self {
            DbError::Postgres(e) => e.as_db_error().is_some_and(|db| {
                let code = db.code().code();
                code.starts_with("22") || code.starts_with("23")
            }),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::ConstraintViolation
                    | rusqlite::ErrorCode::TypeMismatch
                    | rusqlite::ErrorCode::TooBig
            ),
            _ => false,
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// PostgreSQL's own words (its `Display` says only "db error"), or what kept it from being
/// reached; never the connection string, which neither includes.
fn postgres_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("PostgreSQL: {}", db.message());
    }
    let mut message = format!("PostgreSQL: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(&format!(": {c}"));
        cause = c.source();
    }
    message
}

/// Which database a store is in, as given on the command line: a PostgreSQL URL
/// (`postgres://...`) or libpq `key=value` string, else a SQLite file.
#[derive(Clone, Debug)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(Postgres),
}

impl Location {
    pub fn parse(given: &str) -> Result<Self, DbError> {
        let url = given.starts_with("postgres://") || given.starts_with("postgresql://");
        // libpq's form starts with a keyword (`host=db port=5432 ...`, spaces allowed around
        // the `=`); a path may hold `=`.
        let key_value = given.split_once('=').is_some_and(|(key, _)| {
            let key = key.trim();
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        if url || key_value {
            Ok(Location::Postgres(Postgres::parse(given)?))
        } else if given.contains("://") || (given.contains('@') && given.contains(':')) {
            // A URL, or what looks like credentials: never taken for a file, whose name
            // (password and all) would be shown.
            Err(DbError::Location(
                "only postgres:// and postgresql:// URLs, or libpq's key=value form, name a \
                 database server"
                    .into(),
            ))
        } else {
            Ok(Location::Sqlite(given.into()))
        }
    }
}

/// Says where the store is without the password a URL may hold.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(server) => write!(f, "{server}"),
        }
    }
}

/// A PostgreSQL database to connect to. Its connection string may hold a password, so it is
/// never shown: `Display` and `Debug` name the hosts and ports only.
#[derive(Clone)]
pub struct Postgres {
    config: Box<postgres::Config>,
}

impl Postgres {
    pub fn parse(given: &str) -> Result<Self, DbError> {
        let mut config: postgres::Config = given.parse().map_err(|e: postgres::Error| {
            DbError::Location(match std::error::Error::source(&e) {
                Some(cause) => cause.to_string(),
                None => e.to_string(),
            })
        })?;
        // A dead host or a cut network must end the connection in seconds, not hours: the
        // active coordinator's lock lives as long as its connection does.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEAD_PEER);
        }
        // The server's notices ("relation already exists, skipping" at every start) are for
        // whoever debugs, not for the operator's log.
        config.notice_callback(|notice| tracing::debug!("PostgreSQL: {}", notice.message()));
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        // The same on the server's side, so that it ends the session of a coordinator whose
        // host stopped answering (idle 5 s, then 3 probes 2 s apart, or 10 s of data
        // unacknowledged), and with it that session's locks. As startup options, they hold for
        // a connection made again too.
        let options = [
            config.get_options().unwrap_or_default(),
            "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 \
             -c tcp_user_timeout=10000",
        ]
        .join(" ");
        config.options(options.trim());
        Ok(Postgres {
            config: Box::new(config),
        })
    }

    pub fn connect(&self) -> Result<Db, DbError> {
        Ok(Db(Engine::Postgres(Remote::connect(
            (*self.config).clone(),
        )?)))
    }
}

/// How long connecting to PostgreSQL may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long data sent to PostgreSQL may go unacknowledged before the connection is given up.
pub const DEAD_PEER: Duration = Duration::from_secs(10);

impl fmt::Display for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use postgres::config::Host;
        let ports = self.config.get_ports();
        let port = |i: usize| match ports {
            [] => 5432,
            [one] => *one,
            many => many.get(i).copied().unwrap_or(5432),
        };
        // Host names, else the addresses a `hostaddr=` string gives instead.
        let hosts: Vec<String> = match self.config.get_hosts() {
            [] => (self.config.get_hostaddrs().iter())
                .enumerate()
                .map(|(i, addr)| format!("{addr}:{}", port(i)))
                .collect(),
            hosts => (hosts.iter().enumerate())
                .map(|(i, host)| match host {
                    Host::Tcp(name) => format!("{name}:{}", port(i)),
                    Host::Unix(dir) => dir.display().to_string(),
                })
                .collect(),
        };
        match hosts.as_slice() {
            [] => write!(f, "PostgreSQL (local socket)"),
            hosts => write!(f, "PostgreSQL at {}", hosts.join(",")),
        }
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A value going into or coming out of the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// What can be bound to a statement's parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// A statement's parameters, `?1` first.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$($crate::store::database::ToValue::to_value(&$p)),*][..]
    };
}
pub(crate) use params;

/// What a column's value can be read as.
pub trait FromValue: Sized {
    const WANTED: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const WANTED: &'static str = stringify!($t);
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u64, usize);

impl FromValue for bool {
    const WANTED: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const WANTED: &'static str = "a real";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            // A whole number in a REAL expression (`COALESCE(x, 0)`) comes back as an integer.
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    const WANTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const WANTED: &'static str = "a blob";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column, by position or by name.
pub trait ColumnIndex {
    fn position(&self, names: &[String]) -> Result<usize, DbError>;
}

impl ColumnIndex for usize {
    fn position(&self, names: &[String]) -> Result<usize, DbError> {
        if *self < names.len() {
            Ok(*self)
        } else {
            Err(DbError::NoColumn(self.to_string()))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, names: &[String]) -> Result<usize, DbError> {
        names
            .iter()
            .position(|n| n == self)
            .ok_or_else(|| DbError::NoColumn((*self).to_owned()))
    }
}

/// One row of a query's answer.
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub fn get<T: FromValue>(&self, column: impl ColumnIndex) -> Result<T, DbError> {
        let i = column.position(&self.names)?;
        let value = &self.values[i];
        T::from_value(value).ok_or_else(|| DbError::Type {
            column: self.names[i].clone(),
            wanted: T::WANTED,
            found: value.kind(),
        })
    }
}

/// Which SQL a connection speaks, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One connection to the store's database.
pub struct Db(Engine);

enum Engine {
    Sqlite(rusqlite::Connection),
    Postgres(Remote),
}

impl Db {
    pub fn sqlite(connection: rusqlite::Connection) -> Self {
        connection.set_prepared_statement_cache_capacity(64);
        Db(Engine::Sqlite(connection))
    }

    pub fn dialect(&self) -> Dialect {
        match self.0 {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, its change counter).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.0 {
            Engine::Sqlite(c) => Some(c),
            Engine::Postgres(_) => None,
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        match &self.0 {
            Engine::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Engine::Postgres(r) => Ok(r.call(Call::Execute, sql, params)?.changed as usize),
        }
    }

    /// Runs statements without parameters (the schema).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.0 {
            Engine::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Engine::Postgres(r) => r.call(Call::Batch, sql, &[]).map(drop),
        }
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match &self.0 {
            Engine::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let names: Arc<[String]> =
                    stmt.column_names().iter().map(|n| n.to_string()).collect();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..names.len())
                        .map(|i| Ok(sqlite_value(row.get_ref(i)?)))
                        .collect::<Result<_, DbError>>()?;
                    out.push(Row {
                        names: names.clone(),
                        values,
                    });
                }
                Ok(out)
            }
            Engine::Postgres(r) => Ok(r.call(Call::Query, sql, params)?.rows),
        }
    }

    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// The first row's `f`, if there is a row.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        self.query(sql, params)?.first().map(f).transpose()
    }

    /// The first row's `f`; [`DbError::NoRow`] without one.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRow)
    }

    /// Starts a transaction, which rolls back unless committed.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, DbError> {
        self.step(Step::Begin)?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// BEGIN, COMMIT or ROLLBACK; a PostgreSQL connection knows from these when it may
    /// reconnect.
    fn step(&self, step: Step) -> Result<(), DbError> {
        match &self.0 {
            Engine::Sqlite(c) => Ok(c.execute_batch(step.sql())?),
            Engine::Postgres(r) => r.call(Call::Step(step), step.sql(), &[]).map(drop),
        }
    }
}

/// An open transaction; statements go through it as through its connection.
pub struct Transaction<'a> {
    db: &'a Db,
    open: bool,
}

impl Transaction<'_> {
    /// Commits; if that fails, the transaction is rolled back when dropped.
    pub fn commit(mut self) -> Result<(), DbError> {
        self.db.step(Step::Commit)?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to do if it fails: the connection has gone, and the transaction with it.
            let _ = self.db.step(Step::Rollback);
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// Binds a value as whatever type PostgreSQL inferred for its parameter.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Int(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Value::Real(f) if *ty == Type::FLOAT8 => f.to_sql(ty, out),
            Value::Text(s) if <&str as ToSql>::accepts(ty) => s.as_str().to_sql(ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            v => Err(format!("{} cannot be a parameter of type {ty}", v.kind()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn postgres_value(row: &postgres::Row, i: usize) -> Result<Value, DbError> {
    let ty = row.columns()[i].type_();
    let v = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else if <&str as postgres::types::FromSql>::accepts(ty) {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    } else {
        return Err(DbError::Unsupported {
            column: row.columns()[i].name().to_owned(),
            found: ty.to_string(),
        });
    };
    Ok(v.unwrap_or(Value::Null))
}

/// SQLite's numbered parameters (`?1`) in PostgreSQL's spelling (`$1`), outside string literals.
fn numbered_dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

enum Call {
    Execute,
    Query,
    Batch,
    Step(Step),
}

#[derive(Clone, Copy)]
enum Step {
    Begin,
    Commit,
    Rollback,
}

impl Step {
    fn sql(self) -> &'static str {
        match self {
            Step::Begin => "BEGIN",
            Step::Commit => "COMMIT",
            Step::Rollback => "ROLLBACK",
        }
    }
}

/// What a statement did: rows changed by an execute, rows returned by a query.
#[derive(Default)]
struct Answer {
    changed: u64,
    rows: Vec<Row>,
}

struct Request {
    call: Call,
    sql: String,
    params: Vec<Value>,
    reply: mpsc::SyncSender<Result<Answer, DbError>>,
}

/// A PostgreSQL connection on a thread of its own.
struct Remote {
    requests: mpsc::Sender<Request>,
}

impl Remote {
    fn connect(config: postgres::Config) -> Result<Self, DbError> {
        let (requests, incoming) = mpsc::channel::<Request>();
        let (connected, outcome) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                let mut client = match config.connect(postgres::NoTls) {
                    Ok(c) => {
                        let _ = connected.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = connected.send(Err(DbError::from(e)));
                        return;
                    }
                };
                let mut statements = HashMap::new();
                let mut in_transaction = false;
                let mut broken = false;
                for request in incoming {
                    // A connection that ended (the server restarted, a network cut) is made
                    // again, but never inside a transaction: that one failed with it, and
                    // fails until its owner rolls it back.
                    if (broken || client.is_closed()) && !in_transaction {
                        match config.connect(postgres::NoTls) {
                            Ok(c) => {
                                client = c;
                                statements.clear();
                                broken = false;
                            }
                            Err(e) => {
                                let _ = request.reply.send(Err(e.into()));
                                continue;
                            }
                        }
                    }
                    let answer = serve(&mut client, &mut statements, &request);
                    if let Err(DbError::Postgres(e)) = &answer {
                        broken |= ends_connection(e);
                    }
                    match request.call {
                        Call::Step(Step::Begin) => in_transaction = answer.is_ok(),
                        Call::Step(_) => in_transaction = false,
                        _ => {}
                    }
                    let _ = request.reply.send(answer);
                }
            })
            .map_err(|_| DbError::Disconnected)?;
        outcome.recv().map_err(|_| DbError::Disconnected)??;
        Ok(Remote { requests })
    }

    fn call(&self, call: Call, sql: &str, params: &[Value]) -> Result<Answer, DbError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.requests
            .send(Request {
                call,
                sql: sql.to_owned(),
                params: params.to_vec(),
                reply,
            })
            .map_err(|_| DbError::Disconnected)?;
        answer.recv().map_err(|_| DbError::Disconnected)?
    }
}

/// Whether an error leaves the connection unusable: the client may learn that it closed only
/// at the next call, so an I/O error or the server's FATAL (a terminated session) says so.
fn ends_connection(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => matches!(db.severity(), "FATAL" | "PANIC"),
        None => {
            e.is_closed() || std::error::Error::source(e).is_some_and(|c| c.is::<std::io::Error>())
        }
    }
}

fn serve(
    client: &mut postgres::Client,
    statements: &mut HashMap<String, postgres::Statement>,
    request: &Request,
) -> Result<Answer, DbError> {
    if let Call::Batch | Call::Step(_) = request.call {
        client.batch_execute(&request.sql)?;
        return Ok(Answer::default());
    }
    let statement = match statements.get(&request.sql) {
        Some(s) => s.clone(),
        None => {
            let s = client.prepare(&numbered_dollars(&request.sql))?;
            statements.insert(request.sql.clone(), s.clone());
            s
        }
    };
    let params: Vec<&(dyn ToSql + Sync)> = request
        .params
        .iter()
        .map(|p| p as &(dyn ToSql + Sync))
        .collect();
    match request.call {
        Call::Execute => Ok(Answer {
            changed: client.execute(&statement, &params)?,
            rows: Vec::new(),
        }),
        _ => {
            let rows = client.query(&statement, &params)?;
            let names: Arc<[String]> = statement
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            let rows = rows
                .iter()
                .map(|row| {
                    Ok(Row {
                        names: names.clone(),
                        values: (0..names.len())
                            .map(|i| postgres_value(row, i))
                            .collect::<Result<_, DbError>>()?,
                    })
                })
                .collect::<Result<_, DbError>>()?;
            Ok(Answer { changed: 0, rows })
        }
    }
}

/// The store's schema, written for SQLite, in PostgreSQL's names for the same types.
pub fn postgres_schema(sqlite: &str) -> String {
    sqlite
        .replace(
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .replace("INTEGER", "BIGINT")
        .replace(" REAL", " DOUBLE PRECISION")
        .replace(" BLOB", " BYTEA")
        .replace(") WITHOUT ROWID", ")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_are_renamed_outside_literals() {
        assert_eq!(
            numbered_dollars("SELECT ?1, '?2', ?10 WHERE x = '?' AND y = ?2"),
            "SELECT $1, '?2', $10 WHERE x = '?' AND y = $2"
        );
    }

    #[test]
    fn a_postgres_location_is_shown_without_its_password() {
        let shown = |given: &str| {
            let at = Location::parse(given).unwrap();
            assert!(
                matches!(at, Location::Postgres(_)),
                "{given:?} is PostgreSQL"
            );
            let (shown, debug) = (at.to_string(), format!("{at:?}"));
            assert!(
                !shown.contains("s3cret") && !debug.contains("s3cret"),
                "{shown} {debug}"
            );
            shown
        };
        assert_eq!(
            shown("postgres://farm:s3cret@db.example:5432/tessera?sslmode=disable"),
            "PostgreSQL at db.example:5432"
        );
        // An `@` after the host, where a display cut at the last `@` would be fooled.
        assert_eq!(
            shown("postgresql://farm@db.example/tessera?password=s3cret@x"),
            "PostgreSQL at db.example:5432"
        );
        // libpq's key=value form is PostgreSQL too, never a SQLite file named after it.
        assert_eq!(
            shown("host=db1,db2 port=6432 user=farm password=s3cret dbname=tessera"),
            "PostgreSQL at db1:6432,db2:6432"
        );
        assert_eq!(
            shown(" host = db user=farm password = s3cret"),
            "PostgreSQL at db:5432"
        );
        let refused = Location::parse("postgres://farm:s3cret@db.example:notaport/x")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("connection string") && !refused.contains("s3cret"));
        for path in ["farm.db", "runs/a=1/farm.db"] {
            assert!(matches!(
                Location::parse(path).unwrap(),
                Location::Sqlite(p) if p == std::path::Path::new(path)
            ));
        }
        // A mistyped URL is refused, not taken for a file whose name would be shown.
        for typo in ["postgres//farm:s3cret@db/x", "mysql://farm:s3cret@db/x"] {
            let refused = Location::parse(typo).unwrap_err().to_string();
            assert!(!refused.contains("s3cret"), "{refused}");
        }
    }

    #[test]
    fn a_postgres_connection_that_ended_is_made_again_but_never_inside_a_transaction() {
        let scratch = crate::store::tests::Scratch::postgres();
        let server = scratch.postgres_server();
        let admin = server.connect().unwrap();
        let pid = |db: &Db| -> Result<i32, DbError> {
            db.query_row("SELECT pg_backend_pid()", params![], |r| r.get(0))
        };
        let end = |pid: i32| {
            let ended: bool = admin
                .query_row("SELECT pg_terminate_backend(?1)", params![pid], |r| {
                    r.get(0)
                })
                .unwrap();
            assert!(ended);
        };
        let mut db = server.connect().unwrap();
        db.batch("CREATE TABLE t (x BIGINT)").unwrap();
        let first = pid(&db).unwrap();
        end(first);
        // The call that finds the connection gone fails; the next runs on a new one.
        assert!(pid(&db).is_err());
        let second = pid(&db).unwrap();
        assert_ne!(first, second);

        let tx = db.transaction().unwrap();
        tx.execute("INSERT INTO t VALUES (1)", params![]).unwrap();
        end(second);
        // Statements after the cut would run outside the transaction on a new connection,
        // each committed alone: they fail until the transaction is rolled back.
        assert!(tx.execute("INSERT INTO t VALUES (2)", params![]).is_err());
        assert!(tx.execute("INSERT INTO t VALUES (3)", params![]).is_err());
        assert!(tx.commit().is_err());
        let rows: i64 = db
            .query_row("SELECT COUNT(*) FROM t", params![], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "nothing of the cut transaction is kept");
    }

    /// Refused values (a data exception, a broken rule) are told from what may pass, on both
    /// engines, so that they are not retried for ever.
    #[test]
    fn values_a_database_refuses_are_told_from_passing_trouble() {
        let scratch = crate::store::tests::Scratch::postgres();
        let postgres = scratch.postgres_server().connect().unwrap();
        for db in [
            &postgres,
            &Db::sqlite(rusqlite::Connection::open_in_memory().unwrap()),
        ] {
            db.batch("CREATE TABLE u (x BIGINT NOT NULL UNIQUE)")
                .unwrap();
            db.execute("INSERT INTO u VALUES (1)", params![]).unwrap();
            let err = |sql: &str| db.execute(sql, params![]).unwrap_err();
            assert!(err("INSERT INTO u VALUES (1)").is_permanent());
            assert!(err("INSERT INTO u VALUES (NULL)").is_permanent());
            assert!(!err("INSERT INTO nowhere VALUES (1)").is_permanent());
        }
        // A data exception (SQLite divides by zero into NULL).
        let divided = postgres.execute("SELECT 1 / 0", params![]).unwrap_err();
        assert!(divided.is_permanent(), "{divided}");
    }
}
