//! The demo page in headless Chromium: two development users, each in a
//! browser context of their own, chat through the page and the test reads
//! the DOM. `.ci/run` installs Debian's `chromium` when it is missing.

#[allow(dead_code, unused_imports)]
#[path = "../api/helpers/mod.rs"]
mod helpers;

mod chromium;
mod demo;
mod page;
mod paging;
