//! Addresses that may hold credentials (`scheme://user:secret@host/...`: a broker's URL, a
//! coordinator's), as logs and error messages may show them.

/// `amqp://user:secret@host/vhost` as `amqp://user:***@host/vhost`: credentials never reach logs
/// or error messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Split at the last '@' of the whole rest, not of the part before the first '/': a
    // password holding an unescaped '/' must be hidden all the same.
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("amqps://tessera:s3cr@t@broker:5671/%2f"),
            "amqps://tessera:***@broker:5671/%2f"
        );
        assert_eq!(
            redact("amqp://tessera:ab/cd@broker/%2f"),
            "amqp://tessera:***@broker/%2f"
        );
        assert_eq!(redact("amqp://guest@host"), "amqp://guest@host");
        assert_eq!(redact("amqp://host:5672/%2f"), "amqp://host:5672/%2f");
        assert_eq!(redact("not a url"), "not a url");
        assert_eq!(
            redact("http://admin:s3cret@coordinator:8080"),
            "http://admin:***@coordinator:8080"
        );
    }
}
