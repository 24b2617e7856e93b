//! RSS 2.0 rendering with `rss`; paging links as `atom:link` (RFC 5005 applies them to RSS too);
//! each item's `link` is the notice's page, an `atom:link rel="related"` its JSON, its
//! `description` the text with its deadlines as escaped HTML.

use super::item::beijing;
use super::page::Page;
use rss::extension::atom::{AtomExtension, Link};
use rss::{Category, Channel, Guid, Item};

fn link(rel: &str, href: &str) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }
}

/// Plain text as the HTML an RSS `description` holds (RSS 2.0: "entity-encoded HTML is
/// allowed", and readers render it as HTML): escaped, so that markup in a notice's text is shown
/// as written and never interpreted, with its line breaks as `<br>`.
fn as_html(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|escaped| escaped.to_string())
        .unwrap_or_default()
        .replace('\n', "<br>")
}

/// The page as an RSS document.
pub fn render(page: &Page) -> String {
    let mut links = vec![
        link("self", &page.links.this),
        link("first", &page.links.first),
    ];
    if let Some(next) = &page.links.next {
        links.push(link("next", next));
    }
    if let Some(prev) = &page.links.previous {
        links.push(link("previous", prev));
    }
    let items = page
        .items
        .iter()
        .map(|item| Item {
            title: Some(item.title.clone()),
            link: Some(item.url.clone()),
            description: Some(as_html(&item.text_with_deadlines())),
            guid: Some(Guid {
                value: item.id.clone(),
                permalink: false,
            }),
            pub_date: Some(beijing(item.at).to_rfc2822()),
            categories: item
                .tags()
                .into_iter()
                .map(|name| Category { name, domain: None })
                .collect(),
            // The notice's JSON beside its page (`link`).
            atom_ext: Some(AtomExtension {
                links: vec![Link {
                    href: item.json_url.clone(),
                    rel: "related".into(),
                    mime_type: Some("application/json".into()),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        })
        .collect();
    let document = Channel {
        title: page.title.clone(),
        link: page.links.home.clone(),
        description: "已发布的公告与期限事件 (published notices and window events)".into(),
        language: Some("zh-CN".into()),
        last_build_date: Some(beijing(page.updated).to_rfc2822()),
        generator: Some("gongshi".into()),
        atom_ext: Some(AtomExtension { links }),
        items,
        ..Default::default()
    }
    .to_string();
    super::xml_output(document)
}

#[cfg(test)]
mod tests {
    use super::as_html;

    #[test]
    fn markup_in_a_notices_text_is_shown_not_interpreted() {
        assert_eq!(
            as_html("工期<b>180</b>天；报价 &lt;= 限价\n<img src=x onerror=alert(1)>"),
            "工期&#60;b&#62;180&#60;/b&#62;天；报价 &#38;lt;= 限价<br>&#60;img src=x onerror=alert(1)&#62;"
        );
    }
}
