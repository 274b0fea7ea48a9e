//! The host and port of an `http://HOST:PORT` URL (for servers that take them as flags).

/// `http://127.0.0.1:8080/v1` -> (`127.0.0.1`, 8080); `[::1]:8080` keeps its brackets off.
/// `None` without an explicit port, or with a scheme other than http(s).
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let port: u16 = port.parse().ok()?;
    let host = bracketed.unwrap_or(host);
    if host.is_empty()
        || port == 0
        || host.contains(' ')
        || bracketed.is_none() && host.contains(':')
    {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_and_port() {
        assert_eq!(host_port("http://127.0.0.1:8080"), Some(("127.0.0.1".into(), 8080)));
        assert_eq!(host_port("http://localhost:9000/v1/"), Some(("localhost".into(), 9000)));
        assert_eq!(host_port("http://[::1]:8000"), Some(("::1".into(), 8000)));
        assert_eq!(host_port("http://127.0.0.1"), None);
        assert_eq!(host_port("127.0.0.1:8080"), None);
        assert_eq!(host_port("http://h:0"), None);
        assert_eq!(host_port("http://h:99999"), None);
        assert_eq!(host_port("http://:8080"), None);
    }
}
