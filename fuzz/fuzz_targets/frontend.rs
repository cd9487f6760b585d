//! Feeds arbitrary bytes to everything that decodes client messages: the framer, the streaming
//! scanner (in arbitrary chunkings) and the per-message decoders. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgwire::frontend::{self, SaslInitialResponse};
use pgwire::scan::Scanner;
use pgwire::{FrontendTag, Frames};

fuzz_target!(|data: &[u8]| {
    for msg in Frames::new(data, 1 << 16) {
        let Ok(msg) = msg else { break };
        if let Ok(tag) = FrontendTag::from_byte(msg.tag) {
            let _ = match tag {
                FrontendTag::Query => frontend::query(msg.body).map(|_| ()),
                FrontendTag::Password => SaslInitialResponse::parse(msg.body)
                    .map(|_| ())
                    .or_else(|_| frontend::password(msg.body).map(|_| ())),
                _ => Ok(()),
            };
        }
    }
    let split = data.first().map_or(1, |b| *b as usize % 7 + 1);
    let mut scanner = Scanner::new(1 << 16);
    let mut pending = Vec::new();
    for chunk in data.chunks(split) {
        pending.extend_from_slice(chunk);
        match scanner.scan::<pgwire::ProtocolError>(&pending, |t| t == b'Q', |_, _| Ok(())) {
            Ok(n) => drop(pending.drain(..n)),
            Err(_) => return,
        }
    }
});
