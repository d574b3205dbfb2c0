use bytes::BytesMut;

use super::*;

fn one(kind: RecordType, id: u16, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_record(&mut out, kind, id, content);
    out
}

#[test]
fn header_round_trip() {
    let wire = one(RecordType::Stdin, 0x1234, b"hello");
    assert_eq!(&wire[..8], &[1, 5, 0x12, 0x34, 0, 5, 0, 0]);
    let rec = decode(&mut BytesMut::from(&wire[..])).unwrap().unwrap();
    assert_eq!((rec.kind(), rec.request_id()), (RecordType::Stdin, 0x1234));
    assert_eq!(&rec.content[..], b"hello");
}

#[test]
fn padding_is_skipped_and_records_follow() {
    // content 3, padding 5, then a second record.
    let mut wire = vec![1, 4, 0, 1, 0, 3, 5, 0, b'a', b'b', b'c', 9, 9, 9, 9, 9];
    wire.extend(one(RecordType::Params, 1, b""));
    let mut buf = BytesMut::from(&wire[..]);
    let rec = decode(&mut buf).unwrap().unwrap();
    assert_eq!(&rec.content[..], b"abc");
    let end = decode(&mut buf).unwrap().unwrap();
    assert!(end.content.is_empty());
    assert!(buf.is_empty());
}

#[test]
fn every_truncation_waits_for_more() {
    let mut wire = one(RecordType::Stdin, 7, &[42; 300]);
    wire[6] = 3; // padding
    wire.extend([0, 0, 0]);
    for cut in 0..wire.len() {
        let mut buf = BytesMut::from(&wire[..cut]);
        assert_eq!(decode(&mut buf), Ok(None), "cut at {cut}");
        assert_eq!(buf.len(), cut, "a partial record is left in place");
    }
    assert!(decode(&mut BytesMut::from(&wire[..])).unwrap().is_some());
}

#[test]
fn wrong_version_is_an_error() {
    for version in [0u8, 2, 255] {
        let mut buf = BytesMut::from(&[version, 1, 0, 1, 0, 0, 0, 0][..]);
        assert_eq!(
            decode(&mut buf),
            Err(ProtocolError::UnsupportedVersion(version))
        );
    }
}

#[test]
fn largest_record_and_split_content() {
    let big = vec![7u8; MAX_CONTENT_LEN + 10];
    let wire = one(RecordType::Stdout, 1, &big);
    let mut buf = BytesMut::from(&wire[..]);
    let first = decode(&mut buf).unwrap().unwrap();
    let second = decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        (first.content.len(), second.content.len()),
        (MAX_CONTENT_LEN, 10)
    );
    // The largest possible record: 65,535 content bytes, 255 padding.
    let mut wire = vec![1, 5, 0, 1, 0xff, 0xff, 0xff, 0];
    wire.extend(vec![0; 65535 + 255]);
    let rec = decode(&mut BytesMut::from(&wire[..])).unwrap().unwrap();
    assert_eq!(rec.content.len(), 65535);
}

#[test]
fn unknown_types_are_kept() {
    let rec = decode(&mut BytesMut::from(&[1, 200, 0, 0, 0, 0, 0, 0][..]))
        .unwrap()
        .unwrap();
    assert_eq!(rec.kind(), RecordType::Other(200));
    assert_eq!(RecordType::from_u8(0), RecordType::Other(0));
    for n in 0..=255u8 {
        assert_eq!(RecordType::from_u8(n).as_u8(), n);
    }
}

#[test]
fn begin_request_is_exactly_eight_bytes() {
    let begin = BeginRequest::parse(&[0, 1, 1, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(begin.role, Role::Responder);
    assert!(begin.keep_conn());
    let filter = BeginRequest::parse(&[0, 3, 0, 9, 9, 9, 9, 9]).unwrap();
    assert_eq!(filter.role, Role::Filter);
    assert!(!filter.keep_conn());
    assert_eq!(
        BeginRequest::parse(&[0, 1, 1]),
        Err(ProtocolError::BadBeginRequest(3))
    );
    assert_eq!(
        BeginRequest::parse(&[0; 9]),
        Err(ProtocolError::BadBeginRequest(9))
    );
    let mut out = Vec::new();
    BeginRequest {
        role: Role::Other(0xbeef),
        flags: KEEP_CONN,
    }
    .put(&mut out, 3);
    let rec = decode(&mut BytesMut::from(&out[..])).unwrap().unwrap();
    let back = BeginRequest::parse(&rec.content).unwrap();
    assert_eq!((back.role, back.flags), (Role::Other(0xbeef), KEEP_CONN));
}

#[test]
fn end_request_and_unknown_type_layout() {
    let mut out = Vec::new();
    put_end_request(&mut out, 5, 0x0102_0304, ProtocolStatus::UnknownRole);
    assert_eq!(out, [1, 3, 0, 5, 0, 8, 0, 0, 1, 2, 3, 4, 3, 0, 0, 0]);
    out.clear();
    put_unknown_type(&mut out, 77);
    assert_eq!(out, [1, 11, 0, 0, 0, 8, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn pairs_short_and_long_lengths() {
    let long_value = vec![b'v'; 300];
    let mut out = Vec::new();
    put_pair(&mut out, b"A", b"");
    put_pair(&mut out, b"LONG", &long_value);
    let long_name = vec![b'N'; 128];
    put_pair(&mut out, &long_name, b"x");
    // 300 needs the 4-byte form with the high bit set.
    assert_eq!(&out[3..5], &[4, 0x80]);
    let got: Vec<_> = pairs(&out).collect::<Result<_, _>>().unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (&b"A"[..], &b""[..]));
    assert_eq!(got[1], (&b"LONG"[..], &long_value[..]));
    assert_eq!(got[2], (&long_name[..], &b"x"[..]));
}

#[test]
fn hostile_pairs_fail_cleanly() {
    let cases: &[&[u8]] = &[
        &[5],                               // name length, no value length
        &[1, 1, b'a'],                      // value missing
        &[0x80, 0, 0],                      // truncated 4-byte length
        &[0xff, 0xff, 0xff, 0xff, 1, b'a'], // 2 GiB name in 6 bytes
        &[1, 0x80, 0, 0],                   // truncated value length
        &[3, 0, b'a', b'b'],                // name runs past the end
    ];
    for case in cases {
        let mut it = pairs(case);
        assert_eq!(
            it.next(),
            Some(Err(ProtocolError::TruncatedPair)),
            "{case:?}"
        );
        assert_eq!(it.next(), None, "nothing after the error: {case:?}");
    }
    // Every truncation of a valid stream is a clean error, never a panic.
    let mut out = Vec::new();
    put_pair(&mut out, b"REQUEST_METHOD", b"GET");
    put_pair(&mut out, b"X", &[b'y'; 200]);
    for cut in 1..out.len() {
        let results: Vec<_> = pairs(&out[..cut]).collect();
        assert!(results.last().unwrap().is_err() || cut == 19, "cut {cut}");
    }
}

#[test]
fn random_bytes_never_panic() {
    // A small xorshift: the same "random" input on every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = pairs(&bytes).count();
        let _ = BeginRequest::parse(&bytes);
        if let Some(b) = bytes.first_mut() {
            *b = 1; // mostly version 1, so decoding goes further
        }
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = decode(&mut buf) {}
    }
}

#[test]
fn types_and_roles_are_equal_by_number() {
    assert_eq!(RecordType::Other(1), RecordType::BeginRequest);
    assert_ne!(RecordType::Other(12), RecordType::UnknownType);
    assert_eq!(Role::Other(1), Role::Responder);
    assert_ne!(Role::Other(4), Role::Filter);
    let set: std::collections::HashSet<_> = [RecordType::Other(5), RecordType::Stdin].into();
    assert_eq!(set.len(), 1);
    for n in 0..=3 {
        assert_eq!(
            ProtocolStatus::from_u8(n).map(ProtocolStatus::as_u8),
            Some(n)
        );
    }
    assert_eq!(ProtocolStatus::from_u8(4), None);
}
