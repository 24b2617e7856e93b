//! Atom 1.0 (RFC 4287) rendering with `atom_syndication`, paging links after RFC 5005.

use super::item::beijing;
use super::page::Page;
use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text};

fn link(rel: &str, href: &str, mime: Option<&str>) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime.map(str::to_owned),
        ..Default::default()
    }
}

/// The page as an Atom document.
pub fn render(page: &Page) -> String {
    let atom = Some("application/atom+xml");
    let mut links = vec![
        link("self", &page.links.this, atom),
        link("first", &page.links.first, atom),
        link("alternate", &page.links.home, None),
    ];
    if let Some(next) = &page.links.next {
        links.push(link("next", next, atom));
    }
    if let Some(prev) = &page.links.previous {
        links.push(link("previous", prev, atom));
    }
    let entries = page
        .items
        .iter()
        .map(|item| Entry {
            title: Text::plain(item.title.clone()),
            id: item.id.clone(),
            updated: beijing(item.at),
            published: Some(beijing(item.at)),
            links: vec![
                link("alternate", &item.url, Some("text/html")),
                link("related", &item.json_url, Some("application/json")),
            ],
            summary: item.deadlines.clone().map(Text::plain),
            categories: item
                .tags()
                .into_iter()
                .map(|term| Category {
                    term,
                    ..Default::default()
                })
                .collect(),
            content: Some(Content {
                value: Some(item.text.clone()),
                content_type: Some("text".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let document = Feed {
        title: Text::plain(page.title.clone()),
        id: page.feed_id.clone(),
        updated: beijing(page.updated),
        authors: vec![Person {
            name: "gongshi 公示".into(),
            ..Default::default()
        }],
        generator: Some(Generator {
            value: "gongshi".into(),
            ..Default::default()
        }),
        links,
        entries,
        ..Default::default()
    }
    .to_string();
    super::xml_output(document)
}
