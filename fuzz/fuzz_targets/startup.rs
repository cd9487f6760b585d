//! Arbitrary bytes as a connection's first packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgwire::startup::{parse_startup, startup_packet_len};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(len)) = startup_packet_len(data) {
        let _ = parse_startup(&data[..len]);
    }
});
