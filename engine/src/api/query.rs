//! Query conventions of the hooks API: comma-separated lists and
//! limit/offset pagination with a `{count, next, previous, results}` envelope.

use serde::Deserialize;

use super::ApiError;
use super::links::PageLinks;
use super::types::Page;

/// `a,b,c` → `["a", "b", "c"]`; absent or empty → no filter.
pub fn comma_list(value: &Option<String>) -> Option<Vec<&str>> {
    let items: Vec<&str> = value.as_deref()?.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    (!items.is_empty()).then_some(items)
}

/// Whether `value` passes the optional list filter.
pub fn passes(filter: &Option<Vec<&str>>, value: &str) -> bool {
    filter.as_ref().is_none_or(|items| items.contains(&value))
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Results per page: 100 by default, 1000 at most.
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Results to skip.
    #[param(value_type = Option<u32>)]
    pub offset: Option<String>,
}

impl Pagination {
    /// One page of `items`, with links to the pages beside it.
    pub fn page<T>(&self, items: Vec<T>, links: &PageLinks) -> Result<Page<T>, ApiError> {
        let number = |name: &str, value: &Option<String>, default: usize| match value.as_deref() {
            None | Some("") => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| ApiError::validation(format!("{name} must be a non-negative integer"))),
        };
        let limit = number("limit", &self.limit, DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT);
        let offset = number("offset", &self.offset, 0)?;
        let count = items.len();
        let next = (offset + limit < count).then(|| links.to(limit, offset + limit));
        let previous = (offset > 0).then(|| links.to(limit, offset.saturating_sub(limit)));
        let results = items.into_iter().skip(offset).take(limit).collect();
        Ok(Page { count, next, previous, results })
    }
}

/// Tells a body field given as `null` (`Some(None)`) from an absent one
/// (`None`), for partial updates.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
