//! [`RedisStore`]: sessions in Redis, shared by every instance of an
//! application.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisResult, Script};
use serde_json::Value;

use super::id::SessionId;
use super::store::{
    Created, Record, Save, Saved, SessionStore, StoreError, from_unix_millis, unix_millis,
};

/// A [`SessionStore`] in Redis (feature `redis`): many instances of an
/// application share their sessions through one Redis, and a restart of
/// the application loses none.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use gateway_middleware::sessions::RedisStore;
///
/// // Defaults: keys "session:<id>", every call bounded by 500 ms.
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
///
/// // Or configured:
/// let client = redis::Client::open("redis://:secret@10.0.0.5:6379/2")?;
/// let store = RedisStore::builder(client)
///     .key_prefix("myapp:session:")
///     .timeout(Duration::from_millis(250))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
///
/// # How a session is kept
///
/// Each session is one Redis hash under `<prefix><id>`:
///
/// | field     | value                                                   |
/// |-----------|---------------------------------------------------------|
/// | `_v`      | the record's version                                    |
/// | `_c`      | created, milliseconds since the Unix epoch              |
/// | `_e`      | expires, milliseconds since the Unix epoch              |
/// | `d:<key>` | the value of `<key>`, as JSON text                      |
/// | `v:<key>` | the version that last changed `<key>` (kept on removal) |
///
/// Redis keeps the TTL: every create and save sets `PEXPIREAT` to the
/// record's expiry, so Redis drops the hash at that instant, and
/// [`load`](SessionStore::load) also refuses a record whose `_e` has passed
/// (by this machine's clock), so a clock slightly behind Redis's never
/// sees an expired session. Times are kept to the millisecond, rounded
/// down: a record expires at most a millisecond early, never late.
///
/// **Create** is one Lua script (`EXISTS`, `HSET`, `PEXPIREAT`): the same
/// atomic insert-if-absent that `SET NX` gives a string, for a hash.
/// **Save** is one Lua script too, so the per-key merge of the
/// [`SessionStore` contract](SessionStore#the-contract) runs atomically
/// inside Redis: a missing (deleted, expired, replaced) record is
/// [`Saved::Gone`] and nothing is written; a changed key is applied only if
/// its `v:<key>` is not newer than the request's base version (first
/// writer wins); the version is bumped and the TTL moved. Scripts are sent
/// by `EVALSHA`, loaded again after a Redis restart. **Delete** is `DEL`.
///
/// # Failures and time bounds
///
/// Every call — waiting for a connection included — is bounded by the
/// [`timeout`](RedisStoreBuilder::timeout) (500 ms by default); past it
/// the call returns a [`StoreError`] that
/// [`is_timeout`](StoreError::is_timeout), and `Sessions` answers `503`.
/// A stopped, unreachable or paused Redis therefore never hangs a request.
/// The connection is a [`ConnectionManager`]: one multiplexed connection
/// shared by all requests (clones of the store share it too), reconnected
/// in the background after it drops. Calls are not retried: a call that
/// timed out may still have reached Redis and be applied later (a save
/// sent just before Redis paused), which the merge rule makes harmless.
///
/// [`Debug`](fmt::Debug) shows the server address, the database and the
/// key prefix — never a password.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    prefix: String,
    timeout: Duration,
    address: String,
    db: i64,
    create: Script,
    save: Script,
}

/// Configures a [`RedisStore`]; from [`RedisStore::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use gateway_middleware::sessions::RedisStore;
///
/// let store = RedisStore::builder(redis::Client::open("redis://127.0.0.1/")?)
///     .key_prefix("shop:sess:")
///     .timeout(Duration::from_millis(200))
///     .connect_timeout(Duration::from_secs(1))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
pub struct RedisStoreBuilder {
    client: Client,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
}

/// Every call's bound by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// The first connection's bound by default.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`,
    /// `rediss://` with TLS if the `redis` crate has it, `unix:///path`) with
    /// the defaults: key prefix `"session:"`, calls bounded by 500 ms, the
    /// first connection by 2 s.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), gateway_middleware::sessions::StoreError> {
    /// let store = gateway_middleware::sessions::RedisStore::connect("redis://127.0.0.1/").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// If the URL does not parse, or no connection is made within the
    /// connect timeout.
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        let client = Client::open(url).map_err(StoreError::new)?;
        RedisStore::builder(client).connect().await
    }

    /// A builder for a store using `client` (for the address, credentials,
    /// database and protocol).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use gateway_middleware::sessions::RedisStore;
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let store = RedisStore::builder(client).key_prefix("app:s:").connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(client: Client) -> RedisStoreBuilder {
        RedisStoreBuilder {
            client,
            prefix: "session:".to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.shared.prefix)
    }

    /// Runs one call against Redis within the timeout.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let limit = self.shared.timeout;
        match tokio::time::timeout(limit, call).await {
            // The connection's own response timeout (the same limit) may
            // fire first: the same failure.
            Ok(Err(e)) if e.is_timeout() => Err(StoreError::timeout(limit)),
            Ok(result) => result.map_err(StoreError::new),
            Err(_) => Err(StoreError::timeout(limit)),
        }
    }
}

impl RedisStoreBuilder {
    /// The prefix of every key the store writes (the key is the prefix
    /// followed by the session id). Defaults to `"session:"`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> RedisStoreBuilder {
        self.prefix = prefix.into();
        self
    }

    /// The bound on every call: a call that has not finished by then
    /// returns [`StoreError::timeout`]. It also bounds each response on
    /// the connection, so a connection that stopped answering is replaced.
    /// Defaults to 500 milliseconds.
    pub fn timeout(mut self, limit: Duration) -> RedisStoreBuilder {
        self.timeout = limit;
        self
    }

    /// The bound on making a connection, the first one and each
    /// reconnection attempt. Defaults to 2 seconds.
    pub fn connect_timeout(mut self, limit: Duration) -> RedisStoreBuilder {
        self.connect_timeout = limit;
        self
    }

    /// Connects, waiting at most the connect timeout for the first
    /// connection.
    ///
    /// # Errors
    ///
    /// If no connection is made within the connect timeout.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let limit = self.connect_timeout;
        let (config, client, shared) = self.parts();
        let connecting = ConnectionManager::new_with_config(client, config);
        let conn = match tokio::time::timeout(limit, connecting).await {
            Ok(conn) => conn.map_err(StoreError::new)?,
            Err(_) => return Err(StoreError::timeout(limit)),
        };
        Ok(RedisStore { conn, shared })
    }

    /// The store without connecting: the connection is made on the first
    /// call (bounded like every call), so an application can start while
    /// Redis is down and answer `503` to the requests that need a session
    /// until it is back.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use gateway_middleware::sessions::RedisStore;
    /// let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
    /// let store = RedisStore::builder(client).connect_lazy();
    /// assert!(format!("{store:?}").contains("127.0.0.1:1"));
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the connection's task is spawned on it).
    pub fn connect_lazy(self) -> RedisStore {
        let (config, client, shared) = self.parts();
        match ConnectionManager::new_lazy_with_config(client, config) {
            Ok(conn) => RedisStore { conn, shared },
            // Only a push-subscription setting, which is never set here,
            // makes this fail.
            Err(e) => panic!("the Redis connection manager refused its configuration: {e}"),
        }
    }

    fn parts(self) -> (ConnectionManagerConfig, Client, Arc<Shared>) {
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.timeout))
            .set_connection_timeout(Some(self.connect_timeout))
            .set_max_delay(Duration::from_secs(1));
        let info = self.client.get_connection_info();
        let shared = Arc::new(Shared {
            prefix: self.prefix,
            timeout: self.timeout,
            address: info.addr().to_string(),
            db: info.redis_settings().db(),
            create: Script::new(CREATE),
            save: Script::new(SAVE),
        });
        (config, self.client, shared)
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.client.get_connection_info();
        f.debug_struct("RedisStoreBuilder")
            .field("address", &format_args!("{}", info.addr()))
            .field("db", &info.redis_settings().db())
            .field("key_prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("address", &self.shared.address)
            .field("db", &self.shared.db)
            .field("key_prefix", &self.shared.prefix)
            .field("timeout", &self.shared.timeout)
            .finish()
    }
}

/// Insert-if-absent. KEYS[1]: the record; ARGV[1]: its expiry in ms since
/// the epoch; ARGV[2..]: field, value pairs. Returns 1 if inserted, 0 if
/// the key exists. (One HSET per pair: Lua's `unpack` has a stack limit.)
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
";

/// The per-key merge. KEYS[1]: the record. ARGV[1]: the base version,
/// ARGV[2]: the new expiry (ms), ARGV[3]: now (ms), ARGV[4]: '1' to clear,
/// then per changed key: its name, 's' (set) or 'r' (remove), the JSON
/// value ('' for a removal). Returns nil if the record is gone, else the
/// new version followed by the conflicting keys. Whether a key conflicts
/// is decided against the versions before this save, so that clearing a
/// key and setting it again in one request is not a conflict.
const SAVE: &str = r"
local key = KEYS[1]
local meta = redis.call('HMGET', key, '_v', '_e')
if not meta[1] then return false end
if tonumber(meta[2]) <= tonumber(ARGV[3]) then return false end
local base = tonumber(ARGV[1])
local version = tostring(tonumber(meta[1]) + 1)
local refused = {}
for i = 5, #ARGV, 3 do
  local v = redis.call('HGET', key, 'v:' .. ARGV[i])
  if v and tonumber(v) > base then refused[ARGV[i]] = true end
end
if ARGV[4] == '1' then
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 2) == 'd:' then
      local k = string.sub(f, 3)
      local v = redis.call('HGET', key, 'v:' .. k)
      if not v or tonumber(v) <= base then
        redis.call('HDEL', key, f)
        redis.call('HSET', key, 'v:' .. k, version)
      end
    end
  end
end
local out = { version }
for i = 5, #ARGV, 3 do
  local k = ARGV[i]
  if refused[k] then
    table.insert(out, k)
  else
    if ARGV[i + 1] == 's' then
      redis.call('HSET', key, 'd:' .. k, ARGV[i + 2])
    else
      redis.call('HDEL', key, 'd:' .. k)
    end
    redis.call('HSET', key, 'v:' .. k, version)
  end
end
redis.call('HSET', key, '_v', version, '_e', ARGV[2])
redis.call('PEXPIREAT', key, ARGV[2])
return out
";

fn from_millis(ms: u64) -> SystemTime {
    from_unix_millis(ms).unwrap_or(UNIX_EPOCH)
}

/// A record hash that is not what this store writes (another program
/// under the same prefix, or a hand edit). Names the field, never a value.
fn corrupt(field: &str) -> StoreError {
    StoreError::new(format!(
        "the session record in Redis is malformed (field {field:?})"
    ))
}

fn json_text(value: &Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::new)
}

/// Turns the fields of a record hash into a [`Record`]; `None` if there
/// is no hash or it has expired at `now`.
fn parse_record(
    fields: HashMap<String, String>,
    now: SystemTime,
) -> Result<Option<Record>, StoreError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let number = |name: &str| -> Result<u64, StoreError> {
        fields
            .get(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(name))
    };
    let expires = from_millis(number("_e")?);
    if now >= expires {
        return Ok(None);
    }
    let mut record = Record::new(from_millis(number("_c")?), expires);
    record.version = number("_v")?;
    for (field, text) in &fields {
        if let Some(key) = field.strip_prefix("d:") {
            let value = serde_json::from_str(text).map_err(|_| corrupt(field))?;
            record.data.insert(key.to_owned(), value);
        }
    }
    Ok(Some(record))
}

impl SessionStore for RedisStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let fields: HashMap<String, String> = self
            .bounded(redis::cmd("HGETALL").arg(&key).query_async(&mut conn))
            .await?;
        parse_record(fields, SystemTime::now())
    }

    async fn create(&self, id: &SessionId, record: &Record) -> Result<Created, StoreError> {
        let mut conn = self.conn.clone();
        let expires = unix_millis(record.expires);
        let mut call = self.shared.create.key(self.key(id));
        call.arg(expires)
            .arg("_v")
            .arg(record.version)
            .arg("_c")
            .arg(unix_millis(record.created))
            .arg("_e")
            .arg(expires);
        for (key, value) in &record.data {
            call.arg(format!("d:{key}"))
                .arg(json_text(value)?)
                .arg(format!("v:{key}"))
                .arg(record.version);
        }
        let inserted: i64 = self.bounded(call.invoke_async(&mut conn)).await?;
        Ok(if inserted == 1 {
            Created::Inserted
        } else {
            Created::Exists
        })
    }

    async fn save(&self, id: &SessionId, save: &Save) -> Result<Saved, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.shared.save.key(self.key(id));
        call.arg(save.base_version)
            .arg(unix_millis(save.expires))
            .arg(unix_millis(SystemTime::now()))
            .arg(if save.clear { "1" } else { "0" });
        for (key, change) in &save.changes {
            match change {
                Some(value) => call.arg(key).arg("s").arg(json_text(value)?),
                None => call.arg(key).arg("r").arg(""),
            };
        }
        let reply: Option<Vec<String>> = self.bounded(call.invoke_async(&mut conn)).await?;
        let Some(reply) = reply else {
            return Ok(Saved::Gone);
        };
        let mut reply = reply.into_iter();
        let version = reply
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt("_v"))?;
        Ok(Saved::Applied {
            version,
            conflicts: reply.collect(),
        })
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let _removed: i64 = self
            .bounded(redis::cmd("DEL").arg(&key).query_async(&mut conn))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_down_to_the_millisecond() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_999);
        assert_eq!(unix_millis(t), 1_700_000_000_123);
        assert_eq!(
            from_millis(unix_millis(t)),
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        );
        assert_eq!(unix_millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn parse_refuses_expired_and_malformed_records() {
        let now = SystemTime::now();
        let fields = |e: u64| -> HashMap<String, String> {
            [
                ("_v", "3".to_owned()),
                ("_c", "1000".to_owned()),
                ("_e", e.to_string()),
                ("d:a:b", "[1,{\"x\":null}]".to_owned()),
                ("v:a:b", "2".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        };
        let later = unix_millis(now) + 60_000;
        let record = parse_record(fields(later), now).unwrap().unwrap();
        assert_eq!(record.version, 3);
        assert_eq!(record.data["a:b"], serde_json::json!([1, {"x": null}]));
        assert_eq!(record.created, from_millis(1000));
        assert_eq!(parse_record(fields(unix_millis(now)), now).unwrap(), None);
        assert_eq!(parse_record(HashMap::new(), now).unwrap(), None);

        let mut bad = fields(later);
        bad.insert("d:k".into(), "secret-not-json".into());
        let e = parse_record(bad, now).unwrap_err().to_string();
        assert!(e.contains("\"d:k\"") && !e.contains("secret"), "{e}");
        let mut bad = fields(later);
        bad.remove("_v");
        assert!(parse_record(bad, now).is_err());
    }
}
