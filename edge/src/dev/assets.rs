//! The demo page's files (`page/`), embedded in the binary: `/` is
//! `index.html`, and `/demo/{file}` its script modules and style sheet.

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::Error;

/// The page itself.
const INDEX_HTML: &str = include_str!("page/index.html");

/// Every file under `/demo/`: its name, content type and text.
const FILES: [(&str, &str, &str); 10] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("page/app.css"),
    ),
    ("app.js", JS, include_str!("page/app.js")),
    ("api.js", JS, include_str!("page/api.js")),
    ("inbox.js", JS, include_str!("page/inbox.js")),
    ("more.js", JS, include_str!("page/more.js")),
    ("older.js", JS, include_str!("page/older.js")),
    ("reads.js", JS, include_str!("page/reads.js")),
    ("room.js", JS, include_str!("page/room.js")),
    ("row.js", JS, include_str!("page/row.js")),
    ("view.js", JS, include_str!("page/view.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// `GET /`: the page.
pub(super) async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// `GET /demo/{file}`: one of [`FILES`], or 404.
pub(super) async fn file(Path(name): Path<String>) -> Result<Response, Error> {
    let (_, content_type, body) = find(&name).ok_or(Error::NotFound)?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

fn find(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    FILES.iter().copied().find(|(file, _, _)| *file == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `/demo/…` names in `text` (`href`/`src`) and the `./….js` modules it imports.
    fn references(text: &str) -> Vec<String> {
        let quoted = text.split('"').skip(1).step_by(2);
        quoted
            .filter_map(|value| {
                value
                    .strip_prefix("/demo/")
                    .or_else(|| value.strip_prefix("./").filter(|v| v.ends_with(".js")))
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_file_the_page_and_its_modules_refer_to_is_served() {
        let mut names = references(INDEX_HTML);
        for (_, _, body) in FILES {
            names.extend(references(body));
        }
        assert!(names.contains(&"app.js".to_owned()), "{names:?}");
        assert!(names.contains(&"room.js".to_owned()), "{names:?}");
        for name in names {
            assert!(find(&name).is_some(), "{name} is not served");
        }
    }

    #[test]
    fn no_file_builds_markup_from_strings() {
        for (name, _, body) in FILES {
            assert!(!body.contains("innerHTML"), "{name} uses innerHTML");
            assert!(!body.contains("insertAdjacentHTML"), "{name} builds HTML");
        }
    }
}
