//! The envelope of every paginated list.

use serde::{Deserialize, Serialize};

/// One page of a list: how many results in all, links to the pages beside
/// this one (absent at either end), and this page's results.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub count: usize,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}
