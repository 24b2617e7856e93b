//! Generated notices for relevance tests and benchmarks: titles and bodies from templates of real
//! titles (places × project types × 施工/监理/设计/采购), with ground-truth labels, so expected
//! result sets come from the generator and never from an engine.

use super::SearchDoc;
use chrono::{Duration, TimeZone, Utc};

/// Cities and their GB/T 2260 codes.
pub const CITIES: [(&str, &str); 10] = [
    ("南京市", "320100"),
    ("无锡市", "320200"),
    ("徐州市", "320300"),
    ("常州市", "320400"),
    ("苏州市", "320500"),
    ("济南市", "370100"),
    ("青岛市", "370200"),
    ("长沙市", "430100"),
    ("成都市", "510100"),
    ("昆明市", "530100"),
];
/// Project types.
pub const PROJECTS: [&str; 10] = [
    "道路改造工程",
    "学校新建工程",
    "人民医院综合楼工程",
    "污水处理厂提标改造工程",
    "河道整治工程",
    "体育馆建设工程",
    "桥梁维修加固工程",
    "保障性住房项目",
    "老旧小区改造项目",
    "供水管网改造工程",
];
/// Kinds of work, and the notice kind used for them.
pub const WORKS: [(&str, &str); 4] = [
    ("施工", "tender"),
    ("监理", "tender"),
    ("设计", "tender"),
    ("设备采购", "award"),
];

/// Ground-truth labels of generated notice `i`: indexes into the tables above, and its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    /// Index into [`CITIES`] (`i % 10`).
    pub city: usize,
    /// Index into [`PROJECTS`] (`i / 10 % 10`).
    pub project: usize,
    /// Index into [`WORKS`] (`i / 100 % 4`).
    pub work: usize,
    /// `i / 400`, written into the body as 第N批次.
    pub batch: usize,
}

/// The labels of notice `i`.
pub fn labels(i: usize) -> Labels {
    Labels {
        city: i % 10,
        project: (i / 10) % 10,
        work: (i / 100) % 4,
        batch: i / 400,
    }
}

/// Notice `i`: id `n{i:05}`, published one hour after notice `i - 1` from 2025-01-01.
pub fn doc(i: usize) -> SearchDoc {
    let l = labels(i);
    let (city, region) = CITIES[l.city];
    let (work, kind) = WORKS[l.work];
    let project = PROJECTS[l.project];
    let code = format!("E{region}{:04}{i:05}", 2025);
    SearchDoc {
        id: format!("n{i:05}"),
        title: format!(
            "{city}{project}{work}{}",
            if kind == "award" {
                "中标结果公告"
            } else {
                "招标公告"
            }
        ),
        body: format!(
            "{city}{project}已具备招标条件，现对该项目的{work}进行公开招标。项目地点：{city}。第{}批次。",
            l.batch + 1
        ),
        codes: vec![code.clone(), format!("{code}001")],
        kind: kind.to_owned(),
        category: if kind == "award" {
            "procurement"
        } else {
            "works"
        }
        .to_owned(),
        region: Some(region.to_owned()),
        status: "open".to_owned(),
        // One notice an hour from 2025-01-01, so dates are distinct and ordered by i.
        published_at: Utc
            .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::hours(i as i64),
        deadline: None,
        sections: super::Sections::new(),
    }
}
