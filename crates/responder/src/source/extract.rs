//! The extract source: answers from the SQLite index that `passerelle responder load` fills
//! (see [`crate::index`]), one read transaction per chunk on a blocking thread.

use std::path::PathBuf;
use std::sync::Arc;

use passerelle_protocol::v1::Category;

use crate::index::{IndexInfo, IndexReader};
use crate::source::{DataSource, SourceAnswer, SourceError, Subject};

/// A [`DataSource`] over the extract index.
#[derive(Debug, Clone)]
pub struct ExtractSource {
    reader: Arc<IndexReader>,
}

impl ExtractSource {
    /// A source reading the index at `path` (usually `data_dir/extract-index.sqlite`) for `body`.
    pub fn new(path: PathBuf, body: impl Into<String>) -> Self {
        ExtractSource { reader: Arc::new(IndexReader::new(path, body)) }
    }

    /// What the current index holds (fails when nothing has been loaded, or for another body).
    pub async fn info(&self) -> Result<IndexInfo, SourceError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || reader.info()).await.map_err(|e| SourceError::Task(e.to_string()))?
    }
}

#[async_trait::async_trait]
impl DataSource for ExtractSource {
    async fn lookup(&self, subjects: &[Subject], categories: &[Category]) -> Result<SourceAnswer, SourceError> {
        let reader = Arc::clone(&self.reader);
        let subjects = subjects.to_vec();
        let categories = categories.to_vec();
        tokio::task::spawn_blocking(move || reader.lookup(&subjects, &categories))
            .await
            .map_err(|e| SourceError::Task(e.to_string()))?
    }
}
