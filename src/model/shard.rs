//! Sharding (SPEC §11): `run --shard K/N` decides only for the campaigns
//! (and new-campaign products) whose stable hash falls in shard K of N.
//!
//! The hash is the first eight bytes of SHA-256 of the id, so every process,
//! machine and release agrees on where an id belongs. Shards count from 0, as
//! a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` does.

use sha2::{Digest, Sha256};

/// The environment an Indexed Job sets for each pod.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The number of shards when the index comes from the environment.
pub const COUNT_ENV: &str = "CAMPAIGN_PILOT_SHARDS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShardError {
    #[error("--shard {0:?}: expected K/N with 0 <= K < N (for example 0/3)")]
    Syntax(String),
    #[error("{INDEX_ENV}={0:?} is set but {COUNT_ENV} is not (the number of shards)")]
    MissingCount(String),
    #[error("{name}={value:?}: expected a whole number")]
    NotANumber { name: &'static str, value: String },
    #[error("shard {index} of {count}: the index must be below the count and the count at least 1")]
    OutOfRange { index: u32, count: u32 },
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, as given to `--shard`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(syntax)?;
        let k = k.trim().parse().map_err(|_| syntax())?;
        let n = n.trim().parse().map_err(|_| syntax())?;
        Shard::new(k, n)
    }

    /// The flag wins; otherwise `JOB_COMPLETION_INDEX` with
    /// `CAMPAIGN_PILOT_SHARDS`; otherwise no sharding. A count of 1 is no sharding.
    pub fn resolve(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ShardError> {
        let shard = match flag {
            Some(text) => Shard::parse(text)?,
            None => {
                let Some(index) = env(INDEX_ENV).filter(|v| !v.trim().is_empty()) else {
                    return Ok(None);
                };
                let count = env(COUNT_ENV).filter(|v| !v.trim().is_empty()).ok_or_else(|| ShardError::MissingCount(index.clone()))?;
                let number = |name: &'static str, v: &str| {
                    v.trim().parse::<u32>().map_err(|_| ShardError::NotANumber { name, value: v.to_string() })
                };
                Shard::new(number(INDEX_ENV, &index)?, number(COUNT_ENV, &count)?)?
            }
        };
        Ok((shard.count > 1).then_some(shard))
    }

    /// The shard an id belongs to among `count`.
    pub fn of(id: &str, count: u32) -> u32 {
        let digest = Sha256::digest(id.as_bytes());
        let head = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
        (head % u64::from(count)) as u32
    }

    pub fn contains(&self, id: &str) -> bool {
        Shard::of(id, self.count) == self.index
    }

    /// The run lock of this shard: shards of one count run side by side, the
    /// same shard never twice at once.
    pub fn lock_name(&self) -> String {
        format!("run.shard-{}-of-{}", self.index, self.count)
    }

    /// `0/3`, as people write it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse("3/3"), Err(ShardError::OutOfRange { index: 3, count: 3 }));
        assert_eq!(Shard::parse("0/0"), Err(ShardError::OutOfRange { index: 0, count: 0 }));
        assert!(matches!(Shard::parse("1-3"), Err(ShardError::Syntax(_))));
        assert!(matches!(Shard::parse("a/3"), Err(ShardError::Syntax(_))));
    }

    #[test]
    fn the_flag_wins_then_the_indexed_job_environment() {
        let job = [(INDEX_ENV, "1"), (COUNT_ENV, "4")];
        assert_eq!(Shard::resolve(Some("0/2"), env(&job)), Ok(Some(Shard { index: 0, count: 2 })));
        assert_eq!(Shard::resolve(None, env(&job)), Ok(Some(Shard { index: 1, count: 4 })));
        assert_eq!(Shard::resolve(None, env(&[])), Ok(None));
        assert_eq!(Shard::resolve(Some("0/1"), env(&[])), Ok(None), "one shard is the whole portfolio");
        assert_eq!(Shard::resolve(None, env(&[(INDEX_ENV, "1")])), Err(ShardError::MissingCount("1".into())));
        assert!(matches!(
            Shard::resolve(None, env(&[(INDEX_ENV, "x"), (COUNT_ENV, "3")])),
            Err(ShardError::NotANumber { name: INDEX_ENV, .. })
        ));
    }

    #[test]
    fn every_id_has_exactly_one_stable_shard_and_shards_are_balanced() {
        // Pinned (computed with Python's hashlib): a change of hash would move
        // campaigns between shards that are already running.
        assert_eq!([Shard::of("C00001", 3), Shard::of("P0001", 3), Shard::of("campaign-42", 3)], [2, 1, 0]);
        assert_eq!([Shard::of("C00001", 7), Shard::of("P0001", 7), Shard::of("campaign-42", 7)], [4, 3, 4]);
        let ids: Vec<String> = (0..3000).map(|i| format!("C{i:05}")).collect();
        let mut sizes = [0usize; 3];
        for id in &ids {
            let owners: Vec<u32> = (0..3).filter(|&k| Shard { index: k, count: 3 }.contains(id)).collect();
            assert_eq!(owners.len(), 1, "{id} belongs to exactly one shard");
            sizes[owners[0] as usize] += 1;
        }
        for s in sizes {
            assert!((900..=1100).contains(&s), "balanced: {sizes:?}");
        }
    }
}
