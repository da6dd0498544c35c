//! The event store on the real PostgreSQL: global positions and their order.
use std::time::Duration;

use eventstore::testing::TestDb;
use eventstore::{head, read_after};
use sqlx::PgPool;

async fn append(pool: &PgPool, id: &str, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Test', $1, $2, 'Tested', '1.0', '{}', '{}')",
    )
    .bind(id)
    .bind(seq)
    .execute(pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn positions_are_gapless_and_follow_commit_order() {
    let db = TestDb::new().await.unwrap();
    let pool = &db.pool;

    // Writer A takes a position and holds its transaction open.
    let mut a = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Test', 'a', 1, 'Tested', '1.0', '{}', '{}')",
    )
    .execute(&mut *a)
    .await
    .unwrap();

    // Writer B appends concurrently: it must wait for A instead of taking a
    // later position and committing first (which would let a reader skip A).
    let b_pool = pool.clone();
    let b = tokio::spawn(async move { append(&b_pool, "b", 1).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.is_finished(), "B committed while an earlier position was still open");
    assert!(
        read_after(pool, 0, 10).await.unwrap().is_empty(),
        "a reader saw an uncommitted position"
    );

    a.commit().await.unwrap();
    b.await.unwrap().unwrap();
    let events = read_after(pool, 0, 10).await.unwrap();
    let order: Vec<_> = events.iter().map(|e| (e.position, e.aggregate_id.as_str())).collect();
    assert_eq!(order, vec![(1, "a"), (2, "b")]);
    assert_eq!(head(pool).await.unwrap(), 2);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_rolled_back_append_leaves_no_gap() {
    let db = TestDb::new().await.unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Test', 'x', 1, 'Tested', '1.0', '{}', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    append(&db.pool, "y", 1).await.unwrap();
    let events = read_after(&db.pool, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].position, 1);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_reader_racing_eight_writers_never_misses_an_event() {
    let db = TestDb::new().await.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                for i in 1..=100 {
                    append(&pool, &format!("w{w}"), i).await.unwrap();
                }
            })
        })
        .collect();
    // Read as the writers go, advancing a checkpoint like a consumer does.
    let mut seen = Vec::new();
    let mut checkpoint = 0;
    while seen.len() < 800 {
        for e in read_after(&db.pool, checkpoint, 50).await.unwrap() {
            assert_eq!(e.position, checkpoint + 1, "a consumer skipped a position");
            checkpoint = e.position;
            seen.push(e);
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(seen.len(), 800);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn history_cannot_be_rewritten() {
    let db = TestDb::new().await.unwrap();
    append(&db.pool, "x", 1).await.unwrap();
    let update = sqlx::query("UPDATE events SET payload = '{\"x\":1}'").execute(&db.pool).await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM events").execute(&db.pool).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let db = TestDb::new().await.unwrap();
    assert!(eventstore::migrate(&db.pool).await.unwrap().is_empty());
    db.drop_database().await.unwrap();
}
