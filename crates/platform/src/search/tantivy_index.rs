//! The embedded engine: Tantivy on local disk (or in memory for tests), titles and bodies
//! segmented by jieba (search mode) after converting traditional characters to simplified, codes
//! as exact terms, region as every GB/T 2260 prefix of the code plus a facet, dates as fast fields.
//! Every query word must match (AND).

use super::{
    SearchDoc, SearchHit, SearchIndex, SearchQuery, SearchResults, Sections, Sort, StatusChange,
    to_simplified,
};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};

const TOKENIZER: &str = "jieba";
/// Character unigrams and bigrams: a query word still matches when jieba cut the notice's text
/// differently around it (供水管网 → 供水管 / 网), because all its bigrams are there.
const GRAMS: &str = "grams12";
/// Starts a section's status among the `status` field's values, after the notice's own:
/// `\u{1f}key\u{1f}status`. Kept there rather than in a field of their own so that indexes built
/// before sections were kept open with the same schema (Tantivy refuses a changed one); no
/// filter value can start with it (the gateway refuses control characters).
const SECTION: char = '\u{1f}';

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    grams: Field,
    title: Field,
    body: Field,
    codes: Field,
    kind: Field,
    category: Field,
    region: Field,
    region_code: Field,
    region_facet: Field,
    kind_facet: Field,
    status: Field,
    published: Field,
    deadline: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        grams: b.add_text_field(
            "grams",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(GRAMS)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
        codes: b.add_text_field("codes", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED | FAST),
        category: b.add_text_field("category", STRING | STORED),
        region: b.add_text_field("region", STRING),
        region_code: b.add_text_field("region_code", STRING | STORED),
        region_facet: b.add_facet_field("region_facet", FacetOptions::default()),
        kind_facet: b.add_facet_field("kind_facet", FacetOptions::default()),
        status: b.add_text_field("status", STRING | STORED),
        published: b.add_date_field("published", INDEXED | FAST | STORED),
        deadline: b.add_date_field("deadline", INDEXED | FAST | STORED),
    };
    (b.build(), fields)
}

/// The Tantivy index.
pub struct TantivyIndex {
    reader: IndexReader,
    /// None for a read-only view of an index another process writes.
    writer: Option<Mutex<IndexWriter>>,
    f: Fields,
    /// Match counts and facets by (searcher generation, what is matched): a committed index
    /// never changes under its generation, and the counts cost a pass over every match (the
    /// whole index for the search page's first, unfiltered view), while a page of hits does not.
    counts: moka::sync::Cache<(u64, String), Arc<Counts>>,
}

/// What a query matches in all: the total and the facets.
#[derive(Debug)]
struct Counts {
    total: usize,
    kinds: BTreeMap<String, u64>,
    regions: BTreeMap<String, u64>,
}

/// Queries whose counts are kept (a few hundred bytes each).
const COUNTS_KEPT: u64 = 4096;

impl std::fmt::Debug for TantivyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TantivyIndex").finish_non_exhaustive()
    }
}

fn jieba() -> &'static tantivy_jieba::jieba_rs::Jieba {
    static JIEBA: OnceLock<tantivy_jieba::jieba_rs::Jieba> = OnceLock::new();
    JIEBA.get_or_init(tantivy_jieba::jieba_rs::Jieba::new)
}

fn date(t: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_secs(t.timestamp())
}

fn undate(t: tantivy::DateTime) -> DateTime<Utc> {
    Utc.timestamp_opt(t.into_timestamp_secs(), 0)
        .single()
        .unwrap_or_default()
}

impl TantivyIndex {
    /// Opens (or creates) an index in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<TantivyIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, _) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        Self::with_index(Index::open_or_create(directory, schema)?, true)
    }

    /// Opens an index that another process writes (a gateway beside a publish service), for
    /// searching only; it follows the writer's commits. Writes are refused.
    pub fn open_read_only(dir: &Path) -> anyhow::Result<TantivyIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, _) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)?;
        Self::with_index(Index::open_or_create(directory, schema)?, false)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> anyhow::Result<TantivyIndex> {
        let (schema, _) = schema();
        Self::with_index(Index::create_in_ram(schema), true)
    }

    fn with_index(index: Index, writable: bool) -> anyhow::Result<TantivyIndex> {
        index
            .tokenizers()
            .register(TOKENIZER, tantivy_jieba::JiebaTokenizer::new());
        index
            .tokenizers()
            .register(GRAMS, tantivy::tokenizer::NgramTokenizer::all_ngrams(1, 2)?);
        let (_, f) = schema();
        let (writer, policy) = if writable {
            // One indexing thread: the publish service commits a batch of tens of documents at a
            // time, and each thread writes a segment of its own per commit. Two threads doubled
            // the segments (and the files written and synced, and the merges after), and a
            // commit waited for the slower one: measured 71 ms per commit with two, 41 with one
            // (pipeline benchmark, 2 cores).
            let writer = index.writer_with_num_threads(1, 50_000_000).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => anyhow::anyhow!(
                    "the search index is locked by another process (a running publish service or \
                     `gongshi run`); stop it first or use another GONGSHI_DATA_DIR: {e}"
                ),
                e => e.into(),
            })?;
            // Segments merge by size class from 1,000 documents up, not all those under 10,000
            // as one class (Tantivy's default): small commits then stop re-merging the same
            // growing segment again and again.
            let mut merges = tantivy::indexer::LogMergePolicy::default();
            merges.set_min_layer_size(1_000);
            writer.set_merge_policy(Box::new(merges));
            (Some(Mutex::new(writer)), ReloadPolicy::Manual)
        } else {
            (None, ReloadPolicy::OnCommitWithDelay)
        };
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        Ok(TantivyIndex {
            reader,
            writer,
            f,
            counts: moka::sync::Cache::new(COUNTS_KEPT),
        })
    }

    fn document(&self, d: &SearchDoc) -> TantivyDocument {
        let f = self.f;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        let (title, body) = (to_simplified(&d.title), to_simplified(&d.body));
        doc.add_text(f.grams, &title);
        doc.add_text(f.grams, &body);
        doc.add_text(f.title, title);
        doc.add_text(f.body, body);
        for code in &d.codes {
            doc.add_text(f.codes, code.to_lowercase());
        }
        doc.add_text(f.kind, &d.kind);
        doc.add_facet(
            f.kind_facet,
            tantivy::schema::Facet::from_path([d.kind.as_str()]),
        );
        doc.add_text(f.category, &d.category);
        if let Some(region) = d.region.as_deref().filter(|r| r.len() == 6) {
            let (p, c) = (&region[..2], &region[..4]);
            for prefix in [p, c, region] {
                doc.add_text(f.region, prefix);
            }
            doc.add_text(f.region_code, region);
            doc.add_facet(
                f.region_facet,
                tantivy::schema::Facet::from_path([p, c, region]),
            );
        }
        doc.add_text(f.status, &d.status);
        for (key, status) in &d.sections {
            doc.add_text(f.status, format!("{SECTION}{key}{SECTION}{status}"));
        }
        doc.add_date(f.published, date(d.published_at));
        if let Some(deadline) = d.deadline {
            doc.add_date(f.deadline, date(deadline));
        }
        doc
    }

    fn stored(&self, doc: &TantivyDocument) -> SearchDoc {
        let f = self.f;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        SearchDoc {
            id: text(f.id).unwrap_or_default(),
            title: text(f.title).unwrap_or_default(),
            body: text(f.body).unwrap_or_default(),
            codes: doc
                .get_all(f.codes)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            kind: text(f.kind).unwrap_or_default(),
            category: text(f.category).unwrap_or_default(),
            region: text(f.region_code),
            status: text(f.status).unwrap_or_default(),
            sections: doc
                .get_all(f.status)
                .filter_map(|v| v.as_str()?.strip_prefix(SECTION)?.split_once(SECTION))
                .map(|(key, status)| (key.to_owned(), status.to_owned()))
                .collect::<Sections>(),
            published_at: doc
                .get_first(f.published)
                .and_then(|v| v.as_datetime())
                .map(undate)
                .unwrap_or_default(),
            deadline: doc
                .get_first(f.deadline)
                .and_then(|v| v.as_datetime())
                .map(undate),
        }
    }

    /// The writer, locked; an error for a read-only view.
    fn writer(&self) -> anyhow::Result<std::sync::MutexGuard<'_, IndexWriter>> {
        self.writer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this search index is open read-only"))?
            .lock()
            .map_err(|_| anyhow::anyhow!("index writer poisoned"))
    }

    fn commit(&self, writer: &mut IndexWriter) -> anyhow::Result<()> {
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn find(&self, id: &str) -> anyhow::Result<Option<SearchDoc>> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.f.id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, addr)) => Ok(Some(self.stored(&searcher.doc(*addr)?))),
            None => Ok(None),
        }
    }

    /// Every query word must match title, body or a code; a whole-query code match also counts.
    fn text_query(&self, q: &str) -> Option<Box<dyn Query>> {
        let f = self.f;
        let simplified = to_simplified(q.trim());
        let words: Vec<String> = jieba()
            .cut(&simplified, true)
            .into_iter()
            .map(|w| w.word.trim().to_owned())
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .collect();
        if words.is_empty() {
            return None;
        }
        let mut all_words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in &words {
            let chars: Vec<char> = word.chars().collect();
            let grams: Vec<(Occur, Box<dyn Query>)> = if chars.len() == 1 {
                vec![(
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.grams, word),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                )]
            } else {
                chars
                    .windows(2)
                    .map(|pair| {
                        let bigram: String = pair.iter().collect();
                        (
                            Occur::Must,
                            Box::new(TermQuery::new(
                                Term::from_field_text(f.grams, &bigram),
                                IndexRecordOption::Basic,
                            )) as Box<dyn Query>,
                        )
                    })
                    .collect()
            };
            let any_field: Vec<(Occur, Box<dyn Query>)> = vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(BooleanQuery::new(grams)), 0.1)),
                ),
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(f.title, word),
                            IndexRecordOption::WithFreqs,
                        )),
                        2.0,
                    )),
                ),
                (
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.body, word),
                        IndexRecordOption::WithFreqs,
                    )),
                ),
                (
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.codes, &word.to_lowercase()),
                        IndexRecordOption::Basic,
                    )),
                ),
            ];
            all_words.push((Occur::Must, Box::new(BooleanQuery::new(any_field))));
        }
        let code = TermQuery::new(
            Term::from_field_text(f.codes, &simplified.to_lowercase()),
            IndexRecordOption::Basic,
        );
        Some(Box::new(BooleanQuery::new(vec![
            (Occur::Should, Box::new(BooleanQuery::new(all_words))),
            (
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(code), 10.0)),
            ),
        ])))
    }
}

impl SearchIndex for TantivyIndex {
    fn upsert(&self, doc: &SearchDoc) -> anyhow::Result<()> {
        self.upsert_many(std::slice::from_ref(doc))
    }

    fn upsert_many(&self, docs: &[SearchDoc]) -> anyhow::Result<()> {
        self.apply_changes(docs, &[])
    }

    fn apply_changes(&self, docs: &[SearchDoc], statuses: &[StatusChange]) -> anyhow::Result<()> {
        // Read before the writer is taken: a status change rewrites the committed document.
        let mut changed = Vec::with_capacity(statuses.len());
        for change in statuses {
            if let Some(mut doc) = self.find(&change.id)? {
                let deadline = change.deadline.or(doc.deadline);
                if doc.status != change.status
                    || doc.sections != change.sections
                    || doc.deadline != deadline
                {
                    doc.status.clone_from(&change.status);
                    doc.sections.clone_from(&change.sections);
                    doc.deadline = deadline;
                    changed.push(doc);
                }
            }
        }
        if docs.is_empty() && changed.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer()?;
        for doc in changed.iter().chain(docs) {
            writer.delete_term(Term::from_field_text(self.f.id, &doc.id));
            writer.add_document(self.document(doc))?;
        }
        self.commit(&mut writer)
    }

    fn clear(&self) -> anyhow::Result<()> {
        let mut writer = self.writer()?;
        writer.delete_all_documents()?;
        self.commit(&mut writer)
    }

    fn set_status(&self, change: &StatusChange) -> anyhow::Result<()> {
        self.apply_changes(&[], std::slice::from_ref(change))
    }

    fn delete(&self, id: &str) -> anyhow::Result<()> {
        let mut writer = self.writer()?;
        writer.delete_term(Term::from_field_text(self.f.id, id));
        self.commit(&mut writer)
    }

    fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResults> {
        let f = self.f;
        let searcher = self.reader.searcher();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        // A query that is a code some notice carries (project, section, procedure key) finds
        // exactly the notices that carry it, newest first: as words its bigrams would also match
        // the text of notices with similar codes (…8801 shares all but one with …8802).
        let code =
            q.q.as_deref()
                .map(|s| to_simplified(s.trim()).to_lowercase())
                .filter(|c| !c.is_empty() && !c.contains(char::is_whitespace))
                .map(|c| Term::from_field_text(f.codes, &c))
                .filter(|term| searcher.doc_freq(term).is_ok_and(|n| n > 0));
        let text = match code {
            Some(term) => {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
                None
            }
            None => {
                q.q.as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .and_then(|s| self.text_query(s))
            }
        };
        let has_text = text.is_some();
        match text {
            Some(t) => clauses.push((Occur::Must, t)),
            None if !clauses.is_empty() => {}
            None if q.q.as_deref().is_some_and(|s| !s.trim().is_empty()) => {
                return Ok(SearchResults::default());
            }
            None => clauses.push((Occur::Must, Box::new(AllQuery))),
        }
        let mut filter = |field: Field, value: &Option<String>| {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, v),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        };
        filter(f.kind, &q.kind);
        filter(f.category, &q.category);
        filter(f.status, &q.status);
        filter(f.region, &q.region);
        if q.from.is_some() || q.to.is_some() {
            let lower = q.from.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_date(f.published, date(t)))
            });
            let upper = q.to.map_or(Bound::Unbounded, |t| {
                // Inclusive, as the feeds' `to` (`feed_filter`): the same filter, the same entries.
                Bound::Included(Term::from_field_date(f.published, date(t)))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        let query = BooleanQuery::new(clauses);

        let per_page = q.per_page.clamp(1, 100);
        let offset = q.page.max(1).saturating_sub(1).saturating_mul(per_page);
        let top = TopDocs::with_limit(per_page).and_offset(offset);
        let sort = match q.sort {
            Sort::Relevance if !has_text => Sort::PublishedDesc,
            other => other,
        };
        // Everything the counts depend on: the matching, not the page or the order.
        let counts_key = (
            searcher.generation().generation_id(),
            format!(
                "{:?}",
                (
                    &q.q,
                    &q.kind,
                    &q.category,
                    &q.status,
                    &q.region,
                    q.from,
                    q.to
                )
            ),
        );
        let kept = self.counts.get(&counts_key);
        let was_kept = kept.is_some();
        let (addresses, counted) = match sort {
            Sort::Relevance => collect(&searcher, &query, top.order_by_score(), kept)?,
            Sort::PublishedDesc => collect(
                &searcher,
                &query,
                top.order_by_fast_field::<tantivy::DateTime>("published", Order::Desc),
                kept,
            )?,
            Sort::Deadline => collect(
                &searcher,
                &query,
                top.order_by_fast_field::<tantivy::DateTime>("deadline", Order::Asc),
                kept,
            )?,
        };
        if !was_kept {
            self.counts.insert(counts_key, Arc::clone(&counted));
        }
        let snippets = SnippetGenerator::create(&searcher, &query, f.body).ok();
        let mut hits = Vec::with_capacity(addresses.len());
        for addr in addresses {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let stored = self.stored(&doc);
            let snippet = match &snippets {
                Some(g) if has_text => g.snippet_from_doc(&doc).to_html(),
                _ => stored.body.chars().take(120).collect(),
            };
            hits.push(SearchHit {
                id: stored.id,
                title: stored.title,
                snippet,
                kind: stored.kind,
                region: stored.region,
                status: stored.status,
                published_at: stored.published_at,
                deadline: stored.deadline,
                sections: stored.sections,
            });
        }
        Ok(SearchResults {
            total: counted.total,
            hits,
            facets_kind: counted.kinds.clone(),
            facets_region: counted.regions.clone(),
        })
    }

    fn with_code(&self, code: &str, limit: usize) -> anyhow::Result<Vec<SearchHit>> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.f.codes, &code.to_lowercase()),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let d = self.stored(&searcher.doc(addr)?);
            hits.push(SearchHit {
                id: d.id,
                title: d.title,
                snippet: String::new(),
                kind: d.kind,
                region: d.region,
                status: d.status,
                published_at: d.published_at,
                deadline: d.deadline,
                sections: d.sections,
            });
        }
        Ok(hits)
    }

    fn health(&self) -> bool {
        self.writer.as_ref().is_none_or(|w| w.lock().is_ok())
    }
}

/// Runs one top-docs collector (whatever it sorts by), with the match count and both facet
/// collectors unless `counted` already holds them for this searcher.
fn collect<K, C>(
    searcher: &tantivy::Searcher,
    query: &dyn Query,
    top: C,
    counted: Option<Arc<Counts>>,
) -> tantivy::Result<(Vec<DocAddress>, Arc<Counts>)>
where
    C: tantivy::collector::Collector<Fruit = Vec<(K, DocAddress)>>,
{
    let addresses = |hits: Vec<(K, DocAddress)>| hits.into_iter().map(|(_, a)| a).collect();
    if let Some(counted) = counted {
        return Ok((addresses(searcher.search(query, &top)?), counted));
    }
    let mut kinds = FacetCollector::for_field("kind_facet");
    kinds.add_facet("/");
    let mut regions = FacetCollector::for_field("region_facet");
    regions.add_facet("/");
    let (hits, total, kinds, regions) = searcher.search(query, &(top, Count, kinds, regions))?;
    let facet_map = |counts: &tantivy::collector::FacetCounts| {
        counts
            .get("/")
            .map(|(facet, n)| {
                (
                    facet
                        .to_path()
                        .last()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    n,
                )
            })
            .collect()
    };
    let counted = Counts {
        total,
        kinds: facet_map(&kinds),
        regions: facet_map(&regions),
    };
    Ok((addresses(hits), Arc::new(counted)))
}
