//! A definition uploaded as a `.zip` (`file` part named `*.zip`), as WSO2's
//! `OASParserUtil.extractAndValidateOpenAPIArchive` takes it: the archive holds one root
//! folder, the root definition is that folder's `swagger.json`, else its `swagger.yaml`
//! (`checkMasterSwagger`), and the `$ref`s to other files of the archive are resolved into one
//! document (swagger-parser's `resolve`). Nothing is written to disk here: entries are read
//! into memory, within bounds, and every path stays inside the archive.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Component;

/// `extractArchive`'s entry bound.
pub const MAX_ENTRIES: usize = 1024;
/// The bytes all entries may inflate to (WSO2 allows 100 MB; a definition is far smaller, and
/// this bounds a zip bomb's memory). Counted as read, never taken from the entry's header.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 16 * 1024 * 1024;
/// How deep `$ref`s may chain across files (a cycle ends here).
pub const MAX_REF_DEPTH: usize = 32;
/// How many `$ref`s to other files may be inlined in all: refs that fan out (each file
/// referring to the next twice) would otherwise grow the document exponentially.
pub const MAX_REF_EXPANSIONS: usize = 4096;

const MASTER_JSON: &str = "swagger.json";
const MASTER_YAML: &str = "swagger.yaml";

/// The root definition with the archive's files inlined where it (or they) `$ref` them, as
/// JSON text; or why the archive is refused (WSO2's exception message where it has one).
pub fn root_definition(bytes: &[u8]) -> Result<String, String> {
    let files = extract(bytes)?;
    // `extractAndValidateOpenAPIArchive`: exactly one entry at the top, and a folder.
    let mut tops = files
        .keys()
        .map(|path| path.split('/').next().unwrap_or_default());
    let root = tops.next().unwrap_or_default().to_owned();
    if tops.any(|top| top != root) {
        return Err("Swagger Definitions should be placed under one root folder.".to_owned());
    }
    if root.is_empty() || files.contains_key(&root) {
        return Err("Could not find an archive in the given ZIP file.".to_owned());
    }
    let master = [MASTER_JSON, MASTER_YAML]
        .into_iter()
        .map(|name| format!("{root}/{name}"))
        .find(|path| files.contains_key(path))
        .ok_or_else(|| {
            "Could not find a master swagger file with the name of swagger.json /swagger.yaml"
                .to_owned()
        })?;
    let mut resolver = Resolver {
        files: &files,
        parsed: BTreeMap::new(),
        expansions: 0,
    };
    let doc = resolver.document(&master)?;
    let resolved = resolver.resolve(doc, &master, true, 0)?;
    Ok(resolved.to_string())
}

/// Every file entry, by its path inside the archive (`/`-separated, no `.` or `..`).
fn extract(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let unreadable =
        |e: zip::result::ZipError| format!("Error in accessing uploaded API archive: {e}");
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    if archive.len() > MAX_ENTRIES {
        return Err("Too many files to unzip.".to_owned());
    }
    let mut files = BTreeMap::new();
    let mut total = 0_u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(unreadable)?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        // `enclosed_name` refuses absolute paths and `..` that leave the archive, as WSO2's
        // canonical-path check refuses them; what is left is normalised here.
        let path = entry
            .enclosed_name()
            .and_then(|p| normalised(&p))
            .ok_or_else(|| {
                format!(
                    "Attempt to upload invalid zip archive with file at {name}. File path is \
                     outside target directory"
                )
            })?;
        if entry.is_dir() {
            continue;
        }
        let mut content = Vec::new();
        // One byte past the budget tells a bomb from a file that fits exactly.
        let budget = MAX_UNCOMPRESSED_BYTES - total;
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut content)
            .map_err(|e| format!("Error in accessing uploaded API archive: {e}"))?;
        total += content.len() as u64;
        if total > MAX_UNCOMPRESSED_BYTES {
            return Err("File being unzipped is too big.".to_owned());
        }
        files.insert(path, content);
    }
    Ok(files)
}

/// `a/./b/../c` → `a/c`; `None` for a path that is empty, absolute or climbs out.
fn normalised(path: &std::path::Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

struct Resolver<'a> {
    files: &'a BTreeMap<String, Vec<u8>>,
    parsed: BTreeMap<String, Value>,
    expansions: usize,
}

impl Resolver<'_> {
    /// A file of the archive as a document (JSON or YAML), parsed once.
    fn document(&mut self, path: &str) -> Result<Value, String> {
        if let Some(doc) = self.parsed.get(path) {
            return Ok(doc.clone());
        }
        let bytes = self
            .files
            .get(path)
            .ok_or_else(|| format!("Could not find the referenced file {path} in the archive"))?;
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_start_matches('\u{feff}').trim();
        let doc: Value = if text.starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("Malformed JSON in {path}: {e}"))?
        } else {
            serde_norway::from_str(text).map_err(|e| format!("Malformed YAML in {path}: {e}"))?
        };
        self.parsed.insert(path.to_owned(), doc.clone());
        Ok(doc)
    }

    /// `value` (found in `file`) with its `$ref`s to other files replaced by what they point
    /// at. In the root document a local `#/…` ref stays as it is; in another file it points
    /// into that file, so it is inlined too.
    fn resolve(
        &mut self,
        value: Value,
        file: &str,
        is_root: bool,
        depth: usize,
    ) -> Result<Value, String> {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let reference = reference.clone();
                    if let Some(target) = self.target(&reference, file, is_root)? {
                        return self.inline(target, depth);
                    }
                    return Ok(Value::Object(map));
                }
                let mut out = Map::new();
                for (key, item) in map {
                    out.insert(key, self.resolve(item, file, is_root, depth)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .into_iter()
                .map(|item| self.resolve(item, file, is_root, depth))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other),
        }
    }

    /// The file and JSON pointer a `$ref` names, or `None` for one left as it is (a local ref
    /// of the root document, a remote URL: not fetched).
    fn target(
        &self,
        reference: &str,
        file: &str,
        is_root: bool,
    ) -> Result<Option<(String, String)>, String> {
        if reference.contains("://") {
            return Ok(None);
        }
        let (path, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        if path.is_empty() {
            return Ok((!is_root).then(|| (file.to_owned(), pointer.to_owned())));
        }
        let mut parts: Vec<&str> = file.split('/').collect();
        parts.pop();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    // The archive's root folder is as far up as a ref may go.
                    if parts.len() <= 1 {
                        return Err(format!(
                            "The reference {reference} in {file} points outside the archive"
                        ));
                    }
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        Ok(Some((parts.join("/"), pointer.to_owned())))
    }

    fn inline(&mut self, (path, pointer): (String, String), depth: usize) -> Result<Value, String> {
        if depth >= MAX_REF_DEPTH {
            return Err(format!(
                "References nest deeper than {MAX_REF_DEPTH} files (a cycle?) at {path}#{pointer}"
            ));
        }
        self.expansions += 1;
        if self.expansions > MAX_REF_EXPANSIONS {
            return Err(format!(
                "More than {MAX_REF_EXPANSIONS} references to other files"
            ));
        }
        let doc = self.document(&path)?;
        let target = if pointer.is_empty() {
            doc
        } else {
            doc.pointer(&pointer)
                .cloned()
                .ok_or_else(|| format!("Could not resolve the reference {path}#{pointer}"))?
        };
        self.resolve(target, &path, false, depth + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn refs_across_files_and_pointers_inside_them_are_inlined() {
        let archive = zip_of(&[
            (
                "api/swagger.yaml",
                "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: 'paths/a.yaml'\ncomponents:\n  schemas:\n    Local: {type: string}\n",
            ),
            (
                "api/paths/a.yaml",
                "get:\n  responses:\n    '200':\n      description: ok\n      content:\n        application/json:\n          schema: {$ref: '../schemas.yaml#/Pet'}\n",
            ),
            (
                "api/schemas.yaml",
                "Pet: {type: object, properties: {tag: {$ref: '#/Tag'}}}\nTag: {type: string}\n",
            ),
        ]);
        let doc: Value = serde_json::from_str(&root_definition(&archive).unwrap()).unwrap();
        let schema =
            &doc["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(schema["type"], "object");
        // `#/Tag` inside schemas.yaml points into schemas.yaml.
        assert_eq!(schema["properties"]["tag"]["type"], "string");
        // The root document's own local refs stay as they are.
        assert_eq!(doc["components"]["schemas"]["Local"]["type"], "string");
    }

    #[test]
    fn refused_archives_say_why() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"not a zip".to_vec(),
                "Error in accessing uploaded API archive",
            ),
            (
                zip_of(&[("a/swagger.yaml", "x"), ("b/x.yaml", "y")]),
                "one root folder",
            ),
            (
                zip_of(&[("swagger.yaml", "x")]),
                "Could not find an archive",
            ),
            (zip_of(&[("a/openapi.yaml", "x")]), "master swagger file"),
            (
                zip_of(&[("a/../../etc/passwd", "x")]),
                "outside target directory",
            ),
            (
                zip_of(&[("a/swagger.yaml", "paths: {$ref: '../../x.yaml'}")]),
                "points outside the archive",
            ),
            (
                zip_of(&[
                    ("a/swagger.yaml", "paths: {$ref: 'loop.yaml'}"),
                    ("a/loop.yaml", "$ref: 'loop.yaml'"),
                ]),
                "deeper than",
            ),
            (
                zip_of(&[("a/swagger.yaml", "paths: {$ref: 'gone.yaml'}")]),
                "Could not find the referenced file a/gone.yaml",
            ),
        ];
        for (archive, why) in cases {
            let e = root_definition(&archive).unwrap_err();
            assert!(e.contains(why), "{e} (expected {why})");
        }
    }

    #[test]
    fn a_bomb_is_stopped_at_the_bound_not_inflated() {
        let big = " ".repeat(MAX_UNCOMPRESSED_BYTES as usize + 1);
        let archive = zip_of(&[("a/swagger.yaml", &big)]);
        assert!(archive.len() < 1024 * 1024, "deflate makes it small");
        assert_eq!(
            root_definition(&archive).unwrap_err(),
            "File being unzipped is too big."
        );
    }

    #[test]
    fn fanned_out_refs_are_bounded() {
        // Each level refers to the next twice: 2^20 inlinings unbounded.
        let mut entries = vec![(
            "a/swagger.yaml".to_owned(),
            "paths: {$ref: 'l0.yaml'}".to_owned(),
        )];
        for i in 0..20 {
            entries.push((
                format!("a/l{i}.yaml"),
                format!(
                    "x: {{$ref: 'l{n}.yaml'}}\ny: {{$ref: 'l{n}.yaml'}}",
                    n = i + 1
                ),
            ));
        }
        entries.push(("a/l20.yaml".to_owned(), "z: 1".to_owned()));
        let refs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let e = root_definition(&zip_of(&refs)).unwrap_err();
        assert!(e.contains("More than"), "{e}");
    }
}
