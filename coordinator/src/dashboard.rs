//! The dashboard: one page, its script and its style sheet, embedded in the binary and served
//! without a token. The page asks for one and calls the API with it; it shows nothing before.

/// One of the dashboard's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    Page,
    Script,
    Style,
}

impl Asset {
    /// Its content type and bytes.
    pub fn file(self) -> (&'static str, &'static str) {
        match self {
            Asset::Page => (
                "text/html; charset=utf-8",
                include_str!("dashboard/index.html"),
            ),
            Asset::Script => (
                "text/javascript; charset=utf-8",
                include_str!("dashboard/app.js"),
            ),
            Asset::Style => (
                "text/css; charset=utf-8",
                include_str!("dashboard/style.css"),
            ),
        }
    }
}
