//! [`Locals`]: request-local values a middleware hands to the application
//! behind it, shared by reference count, without allocating.
//!
//! ```
//! use std::sync::Arc;
//! use gateway_core::environ::Locals;
//!
//! let mut locals = Locals::new();
//! locals.insert(Arc::new(7u32));
//! assert_eq!(locals.get::<u32>(), Some(&7));
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;

type Value = Arc<dyn Any + Send + Sync>;

/// Request-local values, at most one of each type, each behind an
/// [`Arc`]: what a middleware hands to the application behind it on every
/// request (a session handle, a per-site configuration).
///
/// ```
/// use std::sync::Arc;
/// use gateway_core::{Body, Environ};
///
/// struct Tenant {
///     name: &'static str,
/// }
///
/// let mut env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// let tenant = Arc::new(Tenant { name: "acme" }); // made once, at startup
/// env.locals_mut().insert(Arc::clone(&tenant)); // per request: a reference count
/// assert_eq!(env.locals().get::<Tenant>().map(|t| t.name), Some("acme"));
/// ```
///
/// # Locals or extensions?
///
/// [`Environ::extensions`](crate::Environ::extensions) take any `Clone`
/// value, and the first insert into a request's extensions allocates their
/// map and a box for the value — three allocations, several hundred
/// instructions, a tenth of what a whole hello request costs the server. A
/// middleware that puts something in *every* request puts an [`Arc`] in
/// the locals instead: the first value is kept inline in the environ, so
/// inserting it copies a pointer and counts a reference. A second value
/// moves both into a shared vector (allocated then; further values are
/// pushed onto it, copied first if a clone of the locals shares it).
///
/// Locals survive the tower bridge: [`Environ::into_request`] moves them
/// into the request's [`GatewayContext`], where a hosted tower service
/// finds them ([`GatewayContext::locals`]), and [`Environ::from_request`]
/// brings them back.
///
/// [`Environ::into_request`]: crate::Environ::into_request
/// [`Environ::from_request`]: crate::Environ::from_request
/// [`GatewayContext`]: crate::environ::GatewayContext
/// [`GatewayContext::locals`]: crate::environ::GatewayContext::locals
///
/// The map itself:
///
/// ```
/// use std::sync::Arc;
/// use gateway_core::environ::Locals;
///
/// let mut locals = Locals::new();
/// assert!(locals.insert(Arc::new(7u32)).is_none());
/// assert_eq!(locals.insert(Arc::new(8u32)).as_deref(), Some(&7)); // replaced
/// locals.insert(Arc::new("text"));
/// assert_eq!(locals.get::<u32>(), Some(&8));
/// assert_eq!(locals.get_arc::<&str>().as_deref(), Some(&"text"));
/// assert_eq!(locals.remove::<u32>().as_deref(), Some(&8));
/// assert_eq!(locals.len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Locals {
    /// `None`, the one value, or a [`Many`] holding two or more: the
    /// environ grows by two words, not by a vector's three.
    value: Option<Value>,
}

/// Two or more values, shared copy-on-write between clones of [`Locals`].
#[derive(Clone)]
struct Many(Vec<Value>);

impl Locals {
    /// No values. Allocates nothing.
    pub const fn new() -> Locals {
        Locals { value: None }
    }

    /// Puts `value` in, replacing (and returning) the value of the same
    /// type. Allocates nothing for the first value of a request.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) -> Option<Arc<T>> {
        let value: Value = value;
        let Some(current) = self.value.take() else {
            self.value = Some(value);
            return None;
        };
        if current.is::<T>() {
            self.value = Some(value);
            return current.downcast().ok();
        }
        let many = match current.downcast::<Many>() {
            Ok(mut many) => {
                let values = &mut Arc::make_mut(&mut many).0;
                if let Some(slot) = values.iter_mut().find(|v| (***v).is::<T>()) {
                    let old = std::mem::replace(slot, value);
                    self.value = Some(many);
                    return old.downcast().ok();
                }
                values.push(value);
                many
            }
            Err(one) => Arc::new(Many(vec![one, value])),
        };
        self.value = Some(many);
        None
    }

    /// The value of type `T`, borrowed.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.find::<T>().and_then(|v| v.downcast_ref())
    }

    /// The value of type `T`, as a new reference (an `Arc` clone: a
    /// reference count, no allocation).
    pub fn get_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.find::<T>().and_then(|v| Arc::clone(v).downcast().ok())
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Any + Send + Sync>(&mut self) -> Option<Arc<T>> {
        let current = self.value.take()?;
        if current.is::<T>() {
            return current.downcast().ok();
        }
        let mut many = match current.downcast::<Many>() {
            Ok(many) => many,
            Err(one) => {
                self.value = Some(one);
                return None;
            }
        };
        // Found first: a clone that shares the vector copies it only to
        // take something out of it.
        let Some(at) = many.0.iter().position(|v| v.is::<T>()) else {
            self.value = Some(many);
            return None;
        };
        let values = &mut Arc::make_mut(&mut many).0;
        let taken = Some(values.remove(at));
        self.value = match values.len() {
            1 => values.pop(),
            _ => Some(many),
        };
        taken.and_then(|v| v.downcast().ok())
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        match &self.value {
            None => 0,
            Some(v) => v.downcast_ref::<Many>().map_or(1, |many| many.0.len()),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.value.is_none()
    }

    fn find<T: Any>(&self) -> Option<&Value> {
        let value = self.value.as_ref()?;
        if value.is::<T>() {
            return Some(value);
        }
        value
            .downcast_ref::<Many>()?
            .0
            .iter()
            .find(|v| (***v).is::<T>())
    }
}

impl fmt::Debug for Locals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values are opaque `dyn Any`; their number is what can be told.
        f.debug_struct("Locals")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_replace_remove() {
        let mut l = Locals::new();
        assert!(l.is_empty() && l.get::<u8>().is_none() && l.remove::<u8>().is_none());
        l.insert(Arc::new(1u8));
        l.insert(Arc::new(2u16));
        l.insert(Arc::new(3u32));
        assert_eq!(l.len(), 3);
        assert_eq!(
            (l.get::<u8>(), l.get::<u16>(), l.get::<u32>()),
            (Some(&1), Some(&2), Some(&3))
        );
        // Replacing one in the vector keeps the others.
        assert_eq!(l.insert(Arc::new(4u16)).as_deref(), Some(&2));
        assert_eq!(l.len(), 3);
        // Removing the inline one moves the next one up.
        assert_eq!(l.remove::<u8>().as_deref(), Some(&1));
        assert_eq!(l.len(), 2);
        assert!(!l.is_empty());
        assert_eq!((l.get::<u16>(), l.get::<u32>()), (Some(&4), Some(&3)));
        assert_eq!(l.remove::<u32>().as_deref(), Some(&3));
        assert_eq!(l.remove::<u16>().as_deref(), Some(&4));
        assert!(l.is_empty());
        // A type is told apart from an Arc of it.
        l.insert(Arc::new(Arc::new(5u8)));
        assert!(l.get::<u8>().is_none());
        assert_eq!(l.get::<Arc<u8>>().map(|a| **a), Some(5));
    }

    #[test]
    fn shares_the_value() {
        let shared = Arc::new(String::from("site"));
        let mut l = Locals::new();
        l.insert(Arc::clone(&shared));
        let got = l.get_arc::<String>().unwrap();
        assert!(Arc::ptr_eq(&got, &shared));
        assert_eq!(Arc::strong_count(&shared), 3);
        let copy = l.clone();
        assert_eq!(copy.get::<String>().map(String::as_str), Some("site"));
        assert_eq!(format!("{l:?}"), "Locals { len: 1, .. }");
        // Two or more are shared copy-on-write between clones.
        l.insert(Arc::new(1u8));
        let mut copy = l.clone();
        copy.insert(Arc::new(2u8));
        copy.insert(Arc::new(3u16));
        assert_eq!(
            (l.len(), l.get::<u8>(), l.get::<u16>()),
            (2, Some(&1), None)
        );
        assert_eq!(
            (copy.len(), copy.get::<u8>(), copy.get::<u16>()),
            (3, Some(&2), Some(&3))
        );
        assert_eq!(
            copy.remove::<String>().as_deref().map(String::as_str),
            Some("site")
        );
        assert_eq!((l.len(), copy.len()), (2, 2));
    }
}
