use super::*;

fn r(start: u64, end: u64) -> ByteRange {
    ByteRange { start, end }
}

fn parse_str(value: &str, len: u64) -> Ranges {
    parse(&HeaderValue::from_str(value).unwrap(), len)
}

fn partial(ranges: &[ByteRange]) -> Ranges {
    Ranges::Partial(ranges.to_vec())
}

#[test]
fn byte_range_len() {
    assert_eq!(r(0, 0).len(), 1);
    assert_eq!(r(5, 14).len(), 10);
    assert_eq!(r(0, u64::MAX - 1).len(), u64::MAX);
}

#[test]
fn forms() {
    assert_eq!(parse_str("bytes=0-499", 1000), partial(&[r(0, 499)]));
    assert_eq!(parse_str("bytes=500-999", 1000), partial(&[r(500, 999)]));
    assert_eq!(parse_str("bytes=9500-", 10000), partial(&[r(9500, 9999)]));
    assert_eq!(parse_str("bytes=-500", 10000), partial(&[r(9500, 9999)]));
    assert_eq!(parse_str("bytes=0-0", 1), partial(&[r(0, 0)]));
    assert_eq!(parse_str("bytes=0-", 1), partial(&[r(0, 0)]));
    assert_eq!(parse_str("bytes=007-0010", 100), partial(&[r(7, 10)]));
}

#[test]
fn unit_is_case_insensitive_and_must_be_bytes() {
    assert_eq!(parse_str("BYTES=0-1", 10), partial(&[r(0, 1)]));
    assert_eq!(parse_str("ByTeS=0-1", 10), partial(&[r(0, 1)]));
    assert_eq!(parse_str("items=0-1", 10), Ranges::Full);
    assert_eq!(parse_str("bytes 0-1", 10), Ranges::Full);
    assert_eq!(parse_str("bytes =0-1", 10), Ranges::Full);
    assert_eq!(parse_str("bytesx=0-1", 10), Ranges::Full);
    assert_eq!(parse_str("byte=0-1", 10), Ranges::Full);
    assert_eq!(parse_str("0-1", 10), Ranges::Full);
    assert_eq!(parse_str("", 10), Ranges::Full);
}

#[test]
fn whitespace_and_empty_elements() {
    assert_eq!(
        parse_str("bytes=0-1, 5-6", 10),
        partial(&[r(0, 1), r(5, 6)])
    );
    assert_eq!(
        parse_str("bytes= 0-1 ,\t5-6 ", 10),
        partial(&[r(0, 1), r(5, 6)])
    );
    assert_eq!(
        parse_str("bytes=,0-1,, ,5-6,", 10),
        partial(&[r(0, 1), r(5, 6)])
    );
    // No whitespace inside a spec.
    assert_eq!(parse_str("bytes=0 -1", 10), Ranges::Full);
    assert_eq!(parse_str("bytes=0- 1", 10), Ranges::Full);
    // At least one spec.
    assert_eq!(parse_str("bytes=", 10), Ranges::Full);
    assert_eq!(parse_str("bytes= , ,", 10), Ranges::Full);
}

#[test]
fn syntactically_invalid_is_full() {
    for value in [
        "bytes=5-4",
        "bytes=-",
        "bytes=1",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=--1",
        "bytes=1--2",
        "bytes=0x1-2",
        "bytes=0-1,5-4",
        "bytes=0-1,junk",
    ] {
        assert_eq!(parse_str(value, 100), Ranges::Full, "{value}");
    }
}

#[test]
fn overflow_is_full() {
    assert_eq!(
        parse_str("bytes=18446744073709551615-", 100),
        Ranges::Unsatisfiable
    );
    assert_eq!(parse_str("bytes=18446744073709551616-", 100), Ranges::Full);
    assert_eq!(parse_str("bytes=0-18446744073709551616", 100), Ranges::Full);
    assert_eq!(parse_str("bytes=-18446744073709551616", 100), Ranges::Full);
    assert_eq!(
        parse_str("bytes=0-18446744073709551615", 100),
        partial(&[r(0, 99)])
    );
}

#[test]
fn suffix_ranges() {
    assert_eq!(parse_str("bytes=-1", 10), partial(&[r(9, 9)]));
    assert_eq!(parse_str("bytes=-10", 10), partial(&[r(0, 9)]));
    assert_eq!(parse_str("bytes=-11", 10), partial(&[r(0, 9)]));
    assert_eq!(
        parse_str("bytes=-18446744073709551615", 10),
        partial(&[r(0, 9)])
    );
    assert_eq!(parse_str("bytes=-0", 10), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=-0,0-1", 10), partial(&[r(0, 1)]));
}

#[test]
fn clamping_and_unsatisfiable() {
    assert_eq!(parse_str("bytes=5-100", 10), partial(&[r(5, 9)]));
    assert_eq!(parse_str("bytes=9-9", 10), partial(&[r(9, 9)]));
    assert_eq!(parse_str("bytes=10-", 10), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=10-20", 10), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=11-12, 20-", 10), Ranges::Unsatisfiable);
    // Unsatisfiable specs are dropped when another is satisfiable.
    assert_eq!(parse_str("bytes=20-30, 2-3", 10), partial(&[r(2, 3)]));
}

#[test]
fn empty_representation() {
    assert_eq!(parse_str("bytes=0-", 0), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=0-0", 0), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=-0", 0), Ranges::Unsatisfiable);
    // Satisfiable per RFC 9110 §14.1.1, but there is nothing to cut.
    assert_eq!(parse_str("bytes=-5", 0), Ranges::Full);
    assert_eq!(parse_str("bytes=0-1,-5", 0), Ranges::Full);
    // Syntax still comes first.
    assert_eq!(parse_str("bytes=2-1", 0), Ranges::Full);
}

#[test]
fn sorted_and_coalesced() {
    assert_eq!(
        parse_str("bytes=50-59,0-9,20-29", 100),
        partial(&[r(0, 9), r(20, 29), r(50, 59)])
    );
    // Adjacent.
    assert_eq!(parse_str("bytes=10-19,0-9", 100), partial(&[r(0, 19)]));
    // One byte apart stays apart.
    assert_eq!(
        parse_str("bytes=11-19,0-9", 100),
        partial(&[r(0, 9), r(11, 19)])
    );
    // A chain of adjacent ranges out of order.
    assert_eq!(
        parse_str("bytes=20-29,0-9,10-19,40-", 50),
        partial(&[r(0, 29), r(40, 49)])
    );
}

#[test]
fn overlap_beyond_length_is_refused() {
    // Overlapping ranges asking for more bytes than there are.
    assert_eq!(parse_str("bytes=0-,0-", 100), Ranges::Full);
    assert_eq!(parse_str("bytes=0-59,40-99", 100), Ranges::Full);
    assert_eq!(parse_str("bytes=-60,0-59", 100), Ranges::Full);
    // Overlapping within the length: coalesced.
    assert_eq!(parse_str("bytes=0-9,5-14", 100), partial(&[r(0, 14)]));
    // Exactly the length is fine.
    assert_eq!(parse_str("bytes=0-49,50-99", 100), partial(&[r(0, 99)]));
    assert_eq!(parse_str("bytes=0-50,50-98", 100), partial(&[r(0, 98)]));
    // Lengths are counted after clamping.
    assert_eq!(parse_str("bytes=0-999999", 100), partial(&[r(0, 99)]));
    assert_eq!(parse_str("bytes=0-1,-1000", 100), Ranges::Full);
    // Unsatisfiable specs count for nothing.
    assert_eq!(parse_str("bytes=0-99,200-300", 100), partial(&[r(0, 99)]));
}

#[test]
fn too_many_ranges_is_refused() {
    let specs = |n: u64| {
        let list: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        format!("bytes={}", list.join(","))
    };
    match parse_str(&specs(100), 10_000) {
        Ranges::Partial(ranges) => assert_eq!(ranges.len(), 100),
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_str(&specs(101), 10_000), Ranges::Full);
    // Empty elements are not specs.
    let padded = format!("{},,,,,", specs(100));
    assert!(matches!(parse_str(&padded, 10_000), Ranges::Partial(_)));
    // Unsatisfiable specs are specs.
    assert_eq!(
        parse_str(&format!("{},99999-", specs(100)), 10_000),
        Ranges::Full
    );
}

#[test]
fn header_values() {
    assert_eq!(content_range(r(0, 99), 1234), "bytes 0-99/1234");
    assert_eq!(
        content_range(r(u64::MAX - 1, u64::MAX - 1), u64::MAX),
        "bytes 18446744073709551614-18446744073709551614/18446744073709551615"
    );
    assert_eq!(unsatisfied_range(0), "bytes */0");
    assert_eq!(unsatisfied_range(1234), "bytes */1234");
}

fn assemble(multipart: &Multipart, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for segment in multipart.segments() {
        match segment {
            Segment::Literal(text) => body.extend_from_slice(text),
            Segment::Range(r) => {
                body.extend_from_slice(&content[r.start as usize..=r.end as usize])
            }
        }
    }
    body
}

fn boundary_of(multipart: &Multipart) -> String {
    let content_type = multipart.content_type();
    content_type
        .to_str()
        .unwrap()
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned()
}

#[test]
fn multipart_framing_and_length() {
    let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let ranges = [r(0, 0), r(10, 19), r(990, 999)];
    let plain = HeaderValue::from_static("application/octet-stream");
    for content_type in [Some(&plain), None] {
        let multipart = Multipart::new(&ranges, 1000, content_type);
        let body = assemble(&multipart, &content);
        assert_eq!(body.len() as u64, multipart.content_length());

        let b = boundary_of(&multipart);
        let ct = content_type.map_or(String::new(), |ct| {
            format!("Content-Type: {}\r\n", ct.to_str().unwrap())
        });
        let mut expected = Vec::new();
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                expected.extend_from_slice(b"\r\n");
            }
            expected.extend_from_slice(
                format!(
                    "--{b}\r\n{ct}Content-Range: bytes {}-{}/1000\r\n\r\n",
                    range.start, range.end
                )
                .as_bytes(),
            );
            expected.extend_from_slice(&content[range.start as usize..=range.end as usize]);
        }
        expected.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        assert_eq!(body, expected);
    }
}

#[test]
fn multipart_segments_alternate() {
    let ranges = [r(0, 1), r(5, 6)];
    let multipart = Multipart::new(&ranges, 10, None);
    let kinds: Vec<char> = multipart
        .segments()
        .map(|s| match s {
            Segment::Literal(_) => 'L',
            Segment::Range(_) => 'R',
        })
        .collect();
    assert_eq!(kinds, ['L', 'R', 'L', 'R', 'L']);
    let ranges: Vec<ByteRange> = multipart
        .segments()
        .filter_map(|s| match s {
            Segment::Range(r) => Some(r),
            Segment::Literal(_) => None,
        })
        .collect();
    assert_eq!(ranges, [r(0, 1), r(5, 6)]);
}

#[test]
fn multipart_content_type_is_copied_raw() {
    let odd = HeaderValue::from_bytes(b"text/plain; charset=\"utf-8\"; x=\xe9").unwrap();
    let multipart = Multipart::new(&[r(0, 0), r(2, 2)], 3, Some(&odd));
    let body = assemble(&multipart, b"abc");
    assert_eq!(body.len() as u64, multipart.content_length());
    let needle = b"Content-Type: text/plain; charset=\"utf-8\"; x=\xe9\r\n";
    assert_eq!(
        body.windows(needle.len()).filter(|w| w == needle).count(),
        2
    );
}

#[test]
fn boundaries_are_valid_and_distinct() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let b = boundary_of(&Multipart::new(&[r(0, 0), r(2, 2)], 3, None));
        // RFC 2046 §5.1.1: 1 to 70 bchars; hex digits are among them.
        assert_eq!(b.len(), 32);
        assert!(
            b.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(seen.insert(b));
    }
}

/// The examples the module documented when it was public.
#[test]
fn documented_examples() {
    assert_eq!(ByteRange { start: 0, end: 99 }.len(), 100);
    let range = HeaderValue::from_static("bytes=0-99");
    assert_eq!(parse(&range, 1000), partial(&[r(0, 99)]));
    assert_eq!(parse(&range, 0), Ranges::Unsatisfiable);
    assert_eq!(parse_str("lines=1-2", 1000), Ranges::Full);
    assert_eq!(parse_str("bytes=-100", 1000), partial(&[r(900, 999)]));
    assert_eq!(
        parse_str("Bytes=900-, 0-9", 1000),
        partial(&[r(0, 9), r(900, 999)])
    );
    assert_eq!(parse_str("bytes=0-9,5-19", 1000), partial(&[r(0, 19)]));
    // 1100 bytes asked of 1000.
    assert_eq!(parse_str("bytes=0-599,500-", 1000), Ranges::Full);
    assert_eq!(parse_str("bytes=1000-", 1000), Ranges::Unsatisfiable);
    assert_eq!(parse_str("bytes=9-0", 1000), Ranges::Full);
}

#[test]
fn documented_multipart_example() {
    let content = b"0123456789abcdefghij";
    let plain = HeaderValue::from_static("text/plain");
    let multipart = Multipart::new(&[r(0, 1), r(10, 12)], content.len() as u64, Some(&plain));
    let body = assemble(&multipart, content);
    assert_eq!(body.len() as u64, multipart.content_length());
    let b = boundary_of(&multipart);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        format!(
            "--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\r\n\
             --{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/20\r\n\r\nabc\r\n\
             --{b}--\r\n"
        )
    );
}
