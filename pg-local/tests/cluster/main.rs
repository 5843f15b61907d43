//! Integration tests against real PostgreSQL binaries: one test binary, one module per feature.

mod helpers;
mod owner_death;
mod persistent;
mod temporary;
mod test_database;
