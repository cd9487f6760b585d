//! A deterministic stand-in for the fuzz targets in `fuzz/` that runs with the normal test suite:
//! many random and mutated inputs through every decoder; none may panic, and the streaming scanner
//! must agree with the whole-buffer framer whatever the chunking.
#![allow(clippy::unwrap_used)]

use sluice_pgwire as pgwire;

use pgwire::frontend::{self, SaslInitialResponse};
use pgwire::scan::Scanner;
use pgwire::startup::{parse_startup, startup_packet_len};
use pgwire::{ErrorFields, Frames};

/// xorshift: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn valid_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(20) {
        let tag = b"QPBDESHXCdcf"[rng.below(12)];
        let len = rng.below(300);
        out.push(tag);
        out.extend_from_slice(&((len + 4) as u32).to_be_bytes());
        out.extend((0..len).map(|_| rng.next() as u8));
    }
    out
}

fn mutate(rng: &mut Rng, mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.below(4) {
        if data.is_empty() {
            break;
        }
        let at = rng.below(data.len());
        data[at] = rng.next() as u8;
    }
    data
}

#[test]
fn decoders_never_panic_on_random_input() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    for _ in 0..20_000 {
        let stream = valid_stream(&mut rng);
        let data = mutate(&mut rng, stream);
        for msg in Frames::new(&data, 1 << 16) {
            let Ok(msg) = msg else { break };
            let _ = frontend::query(msg.body);
            let _ = frontend::password(msg.body);
            let _ = SaslInitialResponse::parse(msg.body);
            let _ = ErrorFields::parse(msg.body);
        }
        if let Ok(Some(len)) = startup_packet_len(&data) {
            let _ = parse_startup(&data[..len]);
        }
    }
}

#[test]
fn scanner_agrees_with_framer_under_any_chunking() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let data = valid_stream(&mut rng);
        let whole: Vec<u8> = Frames::new(&data, 1 << 16)
            .map(|m| m.unwrap().tag)
            .collect();
        let mut scanner = Scanner::new(1 << 16);
        let mut pending = Vec::new();
        let mut seen = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let take = 1 + rng.below(rest.len().min(64));
            pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            let n = scanner
                .scan::<pgwire::ProtocolError>(
                    &pending,
                    |t| t == b'S',
                    |_, s| {
                        seen.push(s.tag());
                        Ok(())
                    },
                )
                .unwrap();
            pending.drain(..n);
        }
        assert!(pending.is_empty());
        assert_eq!(seen, whole);
    }
}
