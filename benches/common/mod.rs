//! What the benches share: a health-check server.

use std::io::{Read, Write};

/// A real HTTP server on loopback that answers every request `200 {}` (the health check), on a
/// thread of its own for the rest of the process; returns its port.
pub fn health_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    port
}
