//! Entity tags (RFC 9110 §8.8.3) and the `If-Match` / `If-None-Match`
//! lists of them.

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
        let mut list = TagList(value);
        match (list.next(), list.0.is_empty()) {
            (Some(Element::Tag(tag)), true) => Some(tag),
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
    /// Not an entity tag; skipped up to the next comma outside quotes.
    Invalid,
}

/// The elements of one field line: `#entity-tag` with OWS and empty
/// elements tolerated. Commas may appear inside an opaque tag, so the line
/// is scanned, not split.
pub(super) struct TagList<'a>(pub(super) &'a [u8]);

impl<'a> TagList<'a> {
    /// After an element: OWS, then a comma or the end; anything else makes
    /// the element invalid.
    fn finish(&mut self, element: Element<'a>) -> Element<'a> {
        let rest = self.0.trim_ascii_start();
        if rest.is_empty() || rest[0] == b',' {
            self.0 = rest;
            element
        } else {
            self.skip_to_comma(rest)
        }
    }

    fn skip_to_comma(&mut self, rest: &'a [u8]) -> Element<'a> {
        let at = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        self.0 = &rest[at..];
        Element::Invalid
    }
}

impl<'a> Iterator for TagList<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let start = self
            .0
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
        let rest = &self.0[start..];
        if rest[0] == b'*' {
            self.0 = &rest[1..];
            return Some(self.finish(Element::Star));
        }
        let (weak, quoted) = match rest.strip_prefix(b"W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        if quoted.first() != Some(&b'"') {
            return Some(self.skip_to_comma(rest));
        }
        // etagc = %x21 / %x23-7E / obs-text
        let close = quoted[1..]
            .iter()
            .position(|&b| !(b == 0x21 || b >= 0x23) || b == 0x7F)
            .map(|i| i + 1);
        match close {
            Some(close) if quoted[close] == b'"' => {
                let tag = EntityTag {
                    weak,
                    opaque: &quoted[..=close],
                };
                self.0 = &quoted[close + 1..];
                Some(self.finish(Element::Tag(tag)))
            }
            Some(bad) => Some(self.skip_to_comma(&quoted[bad..])),
            None => {
                self.0 = &[];
                Some(Element::Invalid)
            }
        }
    }
}
