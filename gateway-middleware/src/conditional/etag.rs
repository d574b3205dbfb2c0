//! Entity tags (RFC 9110 §8.8.3) and the `If-Match` / `If-None-Match`
//! lists of them.

use crate::header_list::{Elements, Quoting};

/// An entity tag (RFC 9110 §8.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EntityTag<'a> {
    pub(super) weak: bool,
    /// The opaque tag, quotes included.
    pub(super) opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Parses a whole value (surrounding whitespace allowed).
    pub(super) fn parse(value: &'a [u8]) -> Option<EntityTag<'a>> {
        match Element::parse(value.trim_ascii()) {
            Element::Tag(tag) => Some(tag),
            _ => None,
        }
    }

    /// §8.8.3.2: both strong and the same opaque tag.
    pub(super) fn strong_eq(self, other: EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// §8.8.3.2: the same opaque tag, weak or not.
    pub(super) fn weak_eq(self, other: EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// One element of an `If-Match` / `If-None-Match` list.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Element<'a> {
    Star,
    Tag(EntityTag<'a>),
    /// Not an entity tag.
    Invalid,
}

impl<'a> Element<'a> {
    /// One list element, OWS already trimmed: `*`, or
    /// `[ "W/" ] DQUOTE *etagc DQUOTE` and nothing else.
    fn parse(element: &'a [u8]) -> Element<'a> {
        if element == b"*" {
            return Element::Star;
        }
        let (weak, quoted) = match element.strip_prefix(b"W/") {
            Some(quoted) => (true, quoted),
            None => (false, element),
        };
        match quoted {
            [b'"', opaque @ .., b'"'] if opaque.iter().all(|&b| is_etagc(b)) => {
                Element::Tag(EntityTag {
                    weak,
                    opaque: quoted,
                })
            }
            _ => Element::Invalid,
        }
    }
}

/// `etagc = %x21 / %x23-7E / obs-text`
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80
}

/// The elements of one field line: `#entity-tag` with OWS and empty
/// elements tolerated, and commas allowed inside an opaque tag.
pub(super) fn tag_list(line: &[u8]) -> impl Iterator<Item = Element<'_>> {
    Elements::new(line, Quoting::EntityTag).map(Element::parse)
}
