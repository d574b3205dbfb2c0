//! The demo application: a small notes API written with the framework.
//!
//! | route | answers |
//! |---|---|
//! | `GET /` | a plain-text index of the routes |
//! | `GET /notes` | every note, as JSON |
//! | `POST /notes` | creates a note from JSON or a form (`title`, optional `body`): 201 with `Location` |
//! | `GET /notes/{id}` | one note; 404 if there is none |
//! | `DELETE /notes/{id}` | deletes it: 204 |
//! | `GET /search?q=…&limit=…` | notes whose title or body contains `q` |
//! | `GET /hello/{name}` | a greeting: the decoded path parameter |
//!
//! Bodies are limited to [`BODY_LIMIT`] bytes.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use gateway_core::http::StatusCode;
use gateway_core::http::header::{HeaderValue, LOCATION};
use gateway_core::response::NO_HEADERS;
use gateway_core::{Error, Response, start};
use serde::{Deserialize, Serialize};

use super::{AppError, FORM, Request, Router, get, json, text};

/// The largest request body the notes app reads: 4 KiB.
pub const BODY_LIMIT: usize = 4 * 1024;

/// The index `GET /` answers with.
pub const INDEX: &str = "notes API: GET /notes, POST /notes, GET|DELETE /notes/{id}, \
                         GET /search?q=..., GET /hello/{name}\n";

/// The app's state: the notes, in memory.
#[derive(Debug, Default)]
pub struct Notes {
    inner: Mutex<Store>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    notes: BTreeMap<u64, Note>,
}

impl Notes {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // Every update is a single insert or remove: a panic elsewhere
        // cannot leave the store half-changed.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A note, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Assigned by the server, from 1.
    pub id: u64,
    /// The title; never empty.
    pub title: String,
    /// The text; may be empty.
    pub body: String,
}

/// What `POST /notes` accepts.
#[derive(Deserialize)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

/// The query of `GET /search`.
#[derive(Deserialize)]
struct Search {
    q: String,
    #[serde(default = "Search::default_limit")]
    limit: usize,
}

impl Search {
    fn default_limit() -> usize {
        10
    }
}

/// The notes application, ready to serve (on any adapter).
pub fn app() -> Router<Notes> {
    Router::with_state(Notes::default())
        .body_limit(BODY_LIMIT)
        .route("/", get(index))
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", get(show).delete(remove))
        .route("/search", get(search))
        .route("/hello/{name}", get(hello))
}

async fn index(_req: Request<Notes>) -> Result<Response, AppError> {
    Ok(text(StatusCode::OK, INDEX))
}

async fn list(req: Request<Notes>) -> Result<Response, AppError> {
    let notes: Vec<Note> = req.state().lock().notes.values().cloned().collect();
    json(StatusCode::OK, &notes)
}

async fn create(mut req: Request<Notes>) -> Result<Response, AppError> {
    // One handler, two encodings: a form if it says so, else JSON (which
    // answers 415 for anything else).
    let new: NewNote = if req.has_content_type(FORM) {
        req.form().await?
    } else {
        req.json().await?
    };
    if new.title.trim().is_empty() {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "title must not be empty",
        ));
    }
    let note = {
        let mut store = req.state().lock();
        store.next_id += 1;
        let note = Note {
            id: store.next_id,
            title: new.title,
            body: new.body,
        };
        store.notes.insert(note.id, note.clone());
        note
    };
    // `script_name`: the link is right wherever the app is mounted.
    let location = format!("{}/notes/{}", req.env().script_name(), note.id);
    let mut res = json(StatusCode::CREATED, &note)?;
    let location = HeaderValue::try_from(location).map_err(Error::from)?;
    res.headers_mut().insert(LOCATION, location);
    Ok(res)
}

async fn show(req: Request<Notes>) -> Result<Response, AppError> {
    let id: u64 = req.param("id")?;
    let note = req.state().lock().notes.get(&id).cloned();
    match note {
        Some(note) => json(StatusCode::OK, &note),
        None => Err(AppError::not_found(format!("no note {id}"))),
    }
}

async fn remove(req: Request<Notes>) -> Result<Response, AppError> {
    let id: u64 = req.param("id")?;
    match req.state().lock().notes.remove(&id) {
        // The gateway's own builder works here too.
        Some(_) => Ok(start(StatusCode::NO_CONTENT, NO_HEADERS).empty()?),
        None => Err(AppError::not_found(format!("no note {id}"))),
    }
}

async fn search(req: Request<Notes>) -> Result<Response, AppError> {
    let Search { q, limit } = req.query()?;
    let found: Vec<Note> = req
        .state()
        .lock()
        .notes
        .values()
        .filter(|n| n.title.contains(&q) || n.body.contains(&q))
        .take(limit)
        .cloned()
        .collect();
    json(StatusCode::OK, &found)
}

async fn hello(req: Request<Notes>) -> Result<Response, AppError> {
    let name = req.params().get("name").unwrap_or("world");
    Ok(text(StatusCode::OK, format!("Hello, {name}!\n")))
}
