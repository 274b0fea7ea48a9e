//! Requests that failed because the server closed the connection: recognised in aiperf's error
//! kinds, and what to do about it (`connection_reuse_strategy: never`).

/// Error kinds and messages of a connection the server closed under the client (aiohttp's, as
/// aiperf reports them), lower case.
const CLOSED: [&str; 8] = [
    "serverdisconnected",
    "server disconnected",
    "closing transport",
    "connection reset",
    "connectionreset",
    "connection closed",
    "remotedisconnected",
    "broken pipe",
];

/// Whether an error kind or message says the server closed the connection.
pub fn closed(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    CLOSED.iter().any(|p| t.contains(p))
}

/// What a run with `n` such errors is told (the report's warnings, the terminal).
pub fn warning(dir: &str, n: usize) -> String {
    let at = if dir.is_empty() { String::new() } else { format!(" of `{dir}`") };
    format!(
        "{n} request(s){at} failed because the server closed the connection (\"Cannot write to closing transport\", `ServerDisconnectedError`, connection reset): some servers (llama.cpp's `llama-server`, for one) close the connection after every streamed response while advertising keep-alive, and aiperf's pooled connections then write into a closed socket. {}",
        HINT
    )
}

/// The fix, in one sentence.
pub const HINT: &str = "Set `connection_reuse_strategy: never` in base_config (aiperf's `--connection-reuse-strategy never`: a new connection per request).";

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_closed_connections_and_nothing_else() {
        for t in [
            "ServerDisconnectedError",
            "ClientOSError: Cannot write to closing transport",
            "ClientOSError: [Errno 104] Connection reset by peer",
            "aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected",
        ] {
            assert!(super::closed(t), "{t}");
        }
        for t in
            ["Internal Server Error", "TimeoutError", "Bad Request (400)", "ClientConnectorError"]
        {
            assert!(!super::closed(t), "{t}");
        }
    }
}
