//! The optional HTML directory listing (nginx's `autoindex`).

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What stays unencoded in a link: RFC 3986 unreserved characters.
const LINK: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Renders the listing of `dir`, titled with the URL path `title` (raw,
/// as the client sent it). Names are HTML-escaped and their links
/// percent-encoded and relative; dotfiles are left out unless `dotfiles`,
/// and so are names that are not UTF-8. Blocking.
pub(super) fn render(dir: &Path, title: &str, dotfiles: bool) -> io::Result<Bytes> {
    let mut names = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') && !dotfiles {
            continue;
        }
        // Follows symlinks, as serving them does; a dangling one is shown
        // as a file and answers 404.
        let is_dir = std::fs::metadata(item.path()).is_ok_and(|m| m.is_dir());
        names.push((name, is_dir));
    }
    names.sort_by(|a, b| (!a.1, &a.0).cmp(&(!b.1, &b.0)));
    let title = escape(title);
    let mut html = String::with_capacity(256 + names.len() * 96);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1>\n<ul>\n<li><a href=\"../\">../</a></li>\n"
    );
    for (name, is_dir) in &names {
        let slash = if *is_dir { "/" } else { "" };
        let _ = writeln!(
            html,
            "<li><a href=\"./{}{slash}\">{}{slash}</a></li>",
            utf8_percent_encode(name, LINK),
            escape(name)
        );
    }
    html.push_str("</ul>\n</body></html>\n");
    Ok(Bytes::from(html))
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let dir = std::env::temp_dir().join(format!("gateway-listing-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub dir")).unwrap();
        std::fs::write(dir.join("<img src=x onerror=alert(1)>&\"'.txt"), "x").unwrap();
        std::fs::write(dir.join(".hidden"), "x").unwrap();
        let html = render(&dir, "/files/<x>/", false).unwrap();
        let html = std::str::from_utf8(&html).unwrap();
        assert!(html.contains("Index of /files/&lt;x&gt;/"));
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#39;.txt"));
        assert!(
            html.contains("href=\"./%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%26%22%27.txt\"")
        );
        assert!(html.contains("href=\"./sub%20dir/\">sub dir/</a>"));
        assert!(
            html.find("sub dir").unwrap() < html.find("&lt;img").unwrap(),
            "directories first"
        );
        assert!(!html.contains(".hidden"));
        assert!(
            render(&dir, "/", true)
                .map(|h| h.windows(7).any(|w| w == b".hidden"))
                .unwrap()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
