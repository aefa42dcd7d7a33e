//! The part of Python's pickle format that `torch.save` writes for a state dict, read without
//! Python and without running anything: a state dict is a dictionary of names to tensors, each
//! tensor a call to `torch._utils._rebuild_tensor_v2` over a storage named by a persistent id.
//! Any other call is kept as an opaque value, never executed, so a hostile file can at worst be
//! refused.

use std::collections::HashMap;

/// A value the reader built.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`, and results of calls that are not understood (kept, never run).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A tuple or a list.
    Seq(Vec<Value>),
    /// A dictionary, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A reference to a Python object by module and name (`torch.FloatStorage`).
    Global(String, String),
    /// A storage: its element type (`FloatStorage`), its key in the archive, its element count.
    Storage {
        /// The storage class's name, such as `FloatStorage`.
        kind: String,
        /// Its file name under the archive's `data/` directory.
        key: String,
    },
    /// A tensor: a view of a storage.
    Tensor(TensorRef),
}

/// Where a tensor's values are: a storage, an offset into it, a shape and strides (elements).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage class's name, such as `FloatStorage`.
    pub kind: String,
    /// The storage's file name under the archive's `data/` directory.
    pub key: String,
    /// Offset of the first element, in elements.
    pub offset: usize,
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Strides in elements, outermost first.
    pub stride: Vec<usize>,
}

/// A reason the pickle could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PickleError(String);

fn fail<T>(message: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError(message.into()))
}

/// An item on the machine's stack: a value or a mark (the start of a tuple, list or dict).
enum Item {
    Mark,
    Value(Value),
}

/// The state of the machine as it reads.
struct Machine<'a> {
    data: &'a [u8],
    at: usize,
    stack: Vec<Item>,
    memo: HashMap<u32, Value>,
}

/// Read a pickle and return the object it describes.
pub fn read(data: &[u8]) -> Result<Value, PickleError> {
    let mut machine = Machine {
        data,
        at: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    machine.run()
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.data.len());
        let Some(end) = end else {
            return fail("the pickle ends early");
        };
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.data[self.at..];
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            return fail("a GLOBAL name has no end");
        };
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn text(&mut self, n: usize) -> Result<Value, PickleError> {
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::Str(text.to_owned())),
            Err(_) => fail("a string is not UTF-8"),
        }
    }

    fn push(&mut self, value: Value) {
        self.stack.push(Item::Value(value));
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(Item::Value(value)) => Ok(value),
            _ => fail("the pickle's stack is out of order"),
        }
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        match self.stack.last_mut() {
            Some(Item::Value(value)) => Ok(value),
            _ => fail("the pickle's stack is out of order"),
        }
    }

    /// The values above the last mark, removing the mark.
    fn since_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(mark) = self
            .stack
            .iter()
            .rposition(|item| matches!(item, Item::Mark))
        else {
            return fail("no mark on the pickle's stack");
        };
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .filter_map(|item| match item {
                Item::Value(value) => Some(value),
                Item::Mark => None,
            })
            .collect())
    }

    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let value = self.top()?.clone();
        self.memo.insert(key, value);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        match self.memo.get(&key) {
            Some(value) => {
                let value = value.clone();
                self.push(value);
                Ok(())
            }
            None => fail(format!("memo entry {key} is missing")),
        }
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    self.byte()?; // PROTO: any protocol this subset covers
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Item::Mark),
                b'}' => self.push(Value::Dict(Vec::new())),
                b']' | b')' => self.push(Value::Seq(Vec::new())),
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'K' => {
                    let v = self.byte()?;
                    self.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(v.into()));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(v.into()));
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    if n > 8 {
                        return fail("an integer wider than 64 bits");
                    }
                    let bytes = self.take(n)?;
                    let mut wide = [if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                        0xff
                    } else {
                        0
                    }; 8];
                    wide[..n].copy_from_slice(bytes);
                    self.push(Value::Int(i64::from_le_bytes(wide)));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(bytes)));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.text(n)?;
                    self.push(v);
                }
                0x8c => {
                    let n = usize::from(self.byte()?);
                    let v = self.text(n)?;
                    self.push(v);
                }
                b'q' => {
                    let key = self.byte()?;
                    self.memo_put(key.into())?;
                }
                b'r' => {
                    let key = self.u32()?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = self.byte()?;
                    self.memo_get(key.into())?;
                }
                b'j' => {
                    let key = self.u32()?;
                    self.memo_get(key)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Value::Global(module, name));
                }
                0x93 => {
                    let (name, module) = (self.pop()?, self.pop()?);
                    match (module, name) {
                        (Value::Str(module), Value::Str(name)) => {
                            self.push(Value::Global(module, name));
                        }
                        _ => return fail("STACK_GLOBAL without two names"),
                    }
                }
                b't' => {
                    let items = self.since_mark()?;
                    self.push(Value::Seq(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                    items.reverse();
                    self.push(Value::Seq(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    if let Value::Seq(list) = self.top()? {
                        list.push(item);
                    }
                }
                b'e' => {
                    let items = self.since_mark()?;
                    if let Value::Seq(list) = self.top()? {
                        list.extend(items);
                    }
                }
                b's' => {
                    let (value, key) = (self.pop()?, self.pop()?);
                    if let Value::Dict(dict) = self.top()? {
                        dict.push((key, value));
                    }
                }
                b'u' => {
                    let items = self.since_mark()?;
                    if let Value::Dict(dict) = self.top()? {
                        let mut items = items.into_iter();
                        while let (Some(key), Some(value)) = (items.next(), items.next()) {
                            dict.push((key, value));
                        }
                    }
                }
                b'Q' => {
                    let id = self.pop()?;
                    let storage = storage_from_id(id)?;
                    self.push(storage);
                }
                b'R' => {
                    let (args, callable) = (self.pop()?, self.pop()?);
                    let value = call(callable, args)?;
                    self.push(value);
                }
                0x81 => {
                    // NEWOBJ: an object of some class; kept opaque.
                    self.pop()?;
                    self.pop()?;
                    self.push(Value::None);
                }
                b'b' => {
                    // BUILD: an object's state (a state dict's `_metadata`): not needed.
                    self.pop()?;
                }
                other => return fail(format!("pickle opcode 0x{other:02x} is not supported")),
            }
        }
    }
}

/// `('storage', torch.FloatStorage, '0', 'cpu', 1024)` to a storage reference.
fn storage_from_id(id: Value) -> Result<Value, PickleError> {
    if let Value::Seq(items) = id {
        if let [Value::Str(tag), Value::Global(_, kind), Value::Str(key), ..] = items.as_slice() {
            if tag == "storage" {
                return Ok(Value::Storage {
                    kind: kind.clone(),
                    key: key.clone(),
                });
            }
        }
    }
    fail("a persistent id that is not a tensor storage")
}

fn sizes(value: &Value) -> Result<Vec<usize>, PickleError> {
    match value {
        Value::Seq(items) => items
            .iter()
            .map(|item| match item {
                Value::Int(n) => usize::try_from(*n).or_else(|_| fail("a negative size")),
                _ => fail("a size that is not an integer"),
            })
            .collect(),
        _ => fail("sizes that are not a tuple"),
    }
}

/// The result of calling `callable` with `args`: tensors and ordered dicts are understood,
/// anything else becomes `None` without being run.
fn call(callable: Value, args: Value) -> Result<Value, PickleError> {
    let Value::Global(module, name) = callable else {
        return Ok(Value::None);
    };
    match (module.as_str(), name.as_str(), args) {
        ("torch._utils", "_rebuild_tensor_v2", Value::Seq(args)) => match args.as_slice() {
            [Value::Storage { kind, key }, Value::Int(offset), shape, stride, ..] => {
                Ok(Value::Tensor(TensorRef {
                    kind: kind.clone(),
                    key: key.clone(),
                    offset: usize::try_from(*offset).or_else(|_| fail("a negative offset"))?,
                    shape: sizes(shape)?,
                    stride: sizes(stride)?,
                }))
            }
            _ => fail("a tensor whose arguments are not understood"),
        },
        ("collections", "OrderedDict", _) => Ok(Value::Dict(Vec::new())),
        _ => Ok(Value::None),
    }
}

#[cfg(test)]
mod tests;
