//! Which backups to keep: the newest `keep_recent` (the half-hourly ones)
//! and, for each of the `keep_daily` most recent days that have a backup,
//! that day's last one.
use std::collections::BTreeSet;
use std::path::Path;

use crate::archive::{list, remove, LocalBackup};
use crate::BackupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_recent: usize,
    pub keep_daily: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_recent: 48,
            keep_daily: 14,
        }
    }
}

/// The backups to delete from `backups` (any order), oldest first.
pub fn plan_rotation(backups: &[LocalBackup], retention: Retention) -> Vec<LocalBackup> {
    let mut newest_first: Vec<&LocalBackup> = backups.iter().collect();
    newest_first.sort_by(|a, b| (b.taken_at, &b.name).cmp(&(a.taken_at, &a.name)));
    let mut keep: BTreeSet<&str> = newest_first.iter().take(retention.keep_recent).map(|b| b.name.as_str()).collect();
    let mut days = BTreeSet::new();
    for b in &newest_first {
        let day = b.taken_at.date_naive();
        if days.contains(&day) {
            continue;
        }
        if days.len() == retention.keep_daily {
            break;
        }
        days.insert(day);
        keep.insert(b.name.as_str());
    }
    let mut delete: Vec<LocalBackup> = newest_first
        .into_iter()
        .filter(|b| !keep.contains(b.name.as_str()))
        .cloned()
        .collect();
    delete.reverse();
    delete
}

/// Applies the retention to the backups in `dir`; returns what it deleted.
pub fn rotate(dir: &Path, retention: Retention) -> Result<Vec<LocalBackup>, BackupError> {
    let delete = plan_rotation(&list(dir)?, retention);
    for b in &delete {
        remove(b)?;
    }
    Ok(delete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn backup(at: DateTime<Utc>) -> LocalBackup {
        let name = format!("mrjbot-{}", at.format("%Y%m%dT%H%M%SZ"));
        LocalBackup {
            path: format!("/b/{name}.tar").into(),
            name,
            bytes: 1,
            sha256: None,
            taken_at: at,
        }
    }

    #[test]
    fn twenty_days_of_half_hourly_backups_keep_48_plus_one_per_older_day() {
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let all: Vec<LocalBackup> = (0..20 * 48).map(|i| backup(start + Duration::minutes(30 * i))).collect();
        let delete = plan_rotation(&all, Retention::default());
        let kept: Vec<&LocalBackup> = all.iter().filter(|b| !delete.iter().any(|d| d.name == b.name)).collect();
        // The last 48 are the whole last day (Nov 20); the 13 days before it keep their 23:30 backup.
        assert_eq!(kept.len(), 48 + 13);
        let newest = &all[all.len() - 48..];
        assert!(newest.iter().all(|b| kept.iter().any(|k| k.name == b.name)));
        let dailies: Vec<String> = kept.iter().take(13).map(|b| b.name.clone()).collect();
        assert_eq!(dailies.first().unwrap(), "mrjbot-20261107T233000Z");
        assert_eq!(dailies.last().unwrap(), "mrjbot-20261119T233000Z");
        assert!(delete.windows(2).all(|w| w[0].taken_at <= w[1].taken_at), "oldest first");
    }

    #[test]
    fn few_backups_are_all_kept_and_zero_retention_keeps_nothing() {
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let all: Vec<LocalBackup> = (0..5).map(|i| backup(start + Duration::hours(i))).collect();
        assert!(plan_rotation(&all, Retention::default()).is_empty());
        let none = Retention {
            keep_recent: 0,
            keep_daily: 0,
        };
        assert_eq!(plan_rotation(&all, none).len(), 5);
        let recent_only = Retention {
            keep_recent: 2,
            keep_daily: 0,
        };
        let delete = plan_rotation(&all, recent_only);
        assert_eq!(delete.len(), 3);
        assert_eq!(delete[0].name, all[0].name);
    }
}
