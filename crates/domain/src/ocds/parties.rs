//! The `parties` of a release: one entry per organisation, its roles merged.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The identifier scheme of a 统一社会信用代码 (GB 32100-2015).
pub const USCC_SCHEME: &str = "CN-USCC";

/// Organisations met while mapping one release.
#[derive(Debug, Default)]
pub struct Parties {
    entries: Vec<(String, Value, Vec<&'static str>)>,
}

/// The party id of an organisation: `CN-USCC-<code>` for a 统一社会信用代码, else from its other
/// code, else from its name.
pub fn party_id(name: &str, code: Option<&str>) -> String {
    match public_code(code) {
        Some(c) if is_uscc(c) => format!("{USCC_SCHEME}-{c}"),
        Some(c) => format!("code-{c}"),
        None => {
            let digest = Sha256::digest(name.trim().as_bytes());
            format!("name-{}", &hex::encode(digest)[..16])
        }
    }
}

/// A party code that may be published: not empty, and not a person's identity number (withheld
/// already at validation; this is the second line of defence).
fn public_code(code: Option<&str>) -> Option<&str> {
    code.map(str::trim)
        .filter(|c| !c.is_empty() && !crate::ident::resident_id::is_resident_id(c))
}

fn is_uscc(code: &str) -> bool {
    code.len() == 18 && crate::ident::uscc::check(code).is_ok()
}

impl Parties {
    /// Adds an organisation in `role` (merging with one already met); its reference
    /// (`{id, name}`), or `None` without a name.
    pub fn add(
        &mut self,
        name: Option<&str>,
        code: Option<&str>,
        role: &'static str,
    ) -> Option<Value> {
        let name = name.map(str::trim).filter(|n| !n.is_empty())?;
        let id = party_id(name, code);
        match self.entries.iter_mut().find(|(i, _, _)| *i == id) {
            Some((_, _, roles)) => {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            None => {
                let mut party = json!({"id": id, "name": name});
                if let Some(c) = public_code(code) {
                    party["identifier"] = if is_uscc(c) {
                        json!({"scheme": USCC_SCHEME, "id": c, "legalName": name})
                    } else {
                        json!({"id": c, "legalName": name})
                    };
                }
                self.entries.push((id.clone(), party, vec![role]));
            }
        }
        Some(json!({"id": id, "name": name}))
    }

    /// Whether no organisation was met.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `parties` array.
    pub fn into_json(self) -> Value {
        Value::Array(
            self.entries
                .into_iter()
                .map(|(_, mut party, roles)| {
                    party["roles"] = json!(roles);
                    party
                })
                .collect(),
        )
    }
}
