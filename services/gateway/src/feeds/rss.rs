//! RSS 2.0 rendering with `rss`; paging links as `atom:link` (RFC 5005 applies them to RSS too);
//! each item's `link` is the notice's page, an `atom:link rel="related"` its JSON.

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
            description: Some(item.text_with_deadlines()),
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
