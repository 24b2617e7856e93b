//! Which search engine a process uses: the embedded Tantivy index under the data folder (the
//! default), or Meilisearch when `GONGSHI_MEILI_URL` is set.

use super::{MeiliConfig, MeiliIndex, SearchIndex, TantivyIndex};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Search engine options (shared by `run`, `publish`, `gateway` and `reindex`).
#[derive(Debug, Clone, clap::Args)]
pub struct SearchConfig {
    /// Meilisearch base URL; when set, notices are indexed and searched there instead of the
    /// embedded index under GONGSHI_DATA_DIR/index.
    #[arg(long, env = "GONGSHI_MEILI_URL")]
    pub meili_url: Option<String>,
    /// Meilisearch API key (a key that may write the index, or the master key).
    #[arg(long, env = "GONGSHI_MEILI_KEY", hide_env_values = true)]
    pub meili_key: Option<String>,
    /// Meilisearch index uid.
    #[arg(long, env = "GONGSHI_MEILI_INDEX", default_value = "notices")]
    pub meili_index: String,
    /// How long a Meilisearch write may wait for its task, in seconds.
    #[arg(long, env = "GONGSHI_MEILI_TASK_TIMEOUT_S", default_value_t = 300)]
    pub meili_task_timeout_s: u64,
}

/// What the process does with the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Writes it (the publish service, `reindex`): the embedded index allows one writer.
    Write,
    /// Only searches it (a gateway beside a publish service).
    Read,
}

impl SearchConfig {
    /// Opens the configured engine. The embedded index lives in `data_dir/index`.
    pub fn open(&self, data_dir: &Path, access: Access) -> anyhow::Result<Arc<dyn SearchIndex>> {
        if let Some(url) = self.meili_url.as_deref().filter(|u| !u.is_empty()) {
            return Ok(Arc::new(MeiliIndex::connect(MeiliConfig {
                url: url.to_owned(),
                key: self.meili_key.clone().filter(|k| !k.is_empty()),
                index: self.meili_index.clone(),
                task_timeout: Duration::from_secs(self.meili_task_timeout_s),
            })?));
        }
        let dir = data_dir.join("index");
        Ok(match access {
            Access::Write => Arc::new(TantivyIndex::open(&dir)?),
            Access::Read => Arc::new(TantivyIndex::open_read_only(&dir)?),
        })
    }
}
