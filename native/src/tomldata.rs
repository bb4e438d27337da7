//! messages.toml as Python data, as `tomllib.loads` makes it (comfylog/parse/table.py): the same
//! dicts, lists, strings, numbers and booleans, each table's keys in the order the text gives
//! them. Python's tomllib took ~9 ms of every start-up to read the table (~30 ms with its
//! import, of a small log's ~200 ms); this reads it in well under one.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// `text` (a TOML document) as `tomllib.loads(text)` gives it. A value this does not make as
/// tomllib does (a date or time) is a ValueError: the caller reads the text with tomllib then.
#[pyfunction]
pub fn table_data<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let table = DeTable::parse(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
    table_to_python(py, table.get_ref())
}

/// A table's entries in the order of the text: the map holds them sorted by key, and each key
/// keeps where it was first written (tomllib's dicts keep insertion order).
fn table_to_python<'py>(py: Python<'py>, table: &DeTable<'_>) -> PyResult<Bound<'py, PyAny>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    let dict = PyDict::new(py);
    for (key, value) in entries {
        dict.set_item(key.get_ref().as_ref(), value_to_python(py, value)?)?;
    }
    Ok(dict.into_any())
}

fn value_to_python<'py>(
    py: Python<'py>,
    value: &Spanned<DeValue<'_>>,
) -> PyResult<Bound<'py, PyAny>> {
    match value.get_ref() {
        DeValue::String(s) => s.as_ref().into_bound_py_any(py),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => n.into_bound_py_any(py),
            // past 64 bits: Python's int reads the same digits
            Err(_) => py
                .get_type::<pyo3::types::PyInt>()
                .call1((i.as_str(), i.radix())),
        },
        DeValue::Float(f) => {
            // Python's float() reads TOML's float syntax (underscores gone) as tomllib does
            py.get_type::<pyo3::types::PyFloat>().call1((f.as_str(),))
        }
        DeValue::Boolean(b) => b.into_bound_py_any(py),
        DeValue::Datetime(_) => Err(PyValueError::new_err("a date or time: read by tomllib")),
        DeValue::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_python(py, item)?)?;
            }
            Ok(list.into_any())
        }
        DeValue::Table(table) => table_to_python(py, table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_the_order_of_the_text() {
        let text = "[[message]]\nname = 'b'\nfields = { zeta = 'text', alpha = 'int' }\n[text_classes]\noom = 'x'\n";
        let table = DeTable::parse(text).unwrap();
        let mut keys: Vec<_> = table.get_ref().iter().collect();
        keys.sort_by_key(|(key, _)| key.span().start);
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
        assert_eq!(names, ["message", "text_classes"]);
        let DeValue::Array(messages) = keys[0].1.get_ref() else {
            panic!("message is an array of tables")
        };
        let DeValue::Table(row) = messages[0].get_ref() else {
            panic!("a row is a table")
        };
        let DeValue::Table(fields) = row
            .get(&Spanned::new(0..0, "fields".into()))
            .unwrap()
            .get_ref()
        else {
            panic!("fields is an inline table")
        };
        let mut fields: Vec<_> = fields.iter().collect();
        fields.sort_by_key(|(key, _)| key.span().start);
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
    }
}
