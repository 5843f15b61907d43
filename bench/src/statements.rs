//! What PostgreSQL ran per message during a step, from
//! `pg_stat_statements` (loaded with `--statements`): the profile behind
//! the database's share of the CPU per message.

use serde::Serialize;

use crate::system::System;

/// Statements reported per step.
const TOP: i64 = 12;

/// One statement's share of a step.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// The normalised text, shortened.
    pub query: String,
    pub calls_per_message: f64,
    pub mean_ms: f64,
    /// Execution time per delivered message.
    pub ms_per_message: f64,
}

/// Forgets what was counted so far (every database).
pub async fn reset(system: &System) -> anyhow::Result<()> {
    crate::system::sql(&system.database_url(), "SELECT pg_stat_statements_reset()").await
}

/// The statements that took the most time since the last [`reset`],
/// divided by `messages`.
pub async fn top(system: &System, messages: u64) -> anyhow::Result<Vec<Statement>> {
    let (client, connection) =
        tokio_postgres::connect(&system.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 120), calls::float8,
                    mean_exec_time, total_exec_time
             FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY total_exec_time DESC LIMIT $1",
            &[&TOP],
        )
        .await?;
    let per = messages.max(1) as f64;
    Ok(rows
        .iter()
        .map(|row| Statement {
            query: row.get(0),
            calls_per_message: row.get::<_, f64>(1) / per,
            mean_ms: row.get(2),
            ms_per_message: row.get::<_, f64>(3) / per,
        })
        .collect())
}

/// The mean execution time of the statements whose text contains `marker`
/// since the last [`reset`]; `None` when none ran.
pub async fn mean_ms_of(system: &System, marker: &str) -> anyhow::Result<Option<f64>> {
    let (client, connection) =
        tokio_postgres::connect(&system.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT sum(total_exec_time) / nullif(sum(calls), 0)::float8
             FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND strpos(query, $1) > 0",
            &[&marker],
        )
        .await?;
    Ok(row.get(0))
}

pub fn print(rate: f64, statements: &[Statement]) {
    println!("\nPostgreSQL per message at {rate}/s (pg_stat_statements, execution time):");
    println!("{:>8} {:>9} {:>9}  statement", "calls", "mean ms", "ms/msg");
    for s in statements {
        println!(
            "{:>8.2} {:>9.3} {:>9.3}  {}",
            s.calls_per_message, s.mean_ms, s.ms_per_message, s.query
        );
    }
}
