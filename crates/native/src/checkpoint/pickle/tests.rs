//! The pickle reader on what `torch.save` really writes, and on broken input.

use super::*;

/// What `torch.save(nn.Linear(2, 1).state_dict(), f)` wrote with PyTorch 2.15 (`data.pkl`).
const LINEAR: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x02tq\x08QK\x00K\x01K\x02\x86q\tK\x02K\x01\x86q\n\x89h\x00)Rq\x0btq\x0cRq\rX\x04\x00\x00\x00biasq\x0eh\x03((h\x04h\x05X\x01\x00\x00\x001q\x0fh\x07K\x01tq\x10QK\x00K\x01\x85q\x11K\x01\x85q\x12\x89h\x00)Rq\x13tq\x14Rq\x15u}q\x16X\t\x00\x00\x00_metadataq\x17h\x00)Rq\x18X\x00\x00\x00\x00q\x19}q\x1aX\x07\x00\x00\x00versionq\x1bK\x01sssb.";

fn state_dict_pickle() -> Vec<u8> {
    LINEAR.to_vec()
}

#[test]
fn a_state_dict_reads_as_named_tensors() {
    let value = read(&state_dict_pickle()).unwrap();
    let Value::Dict(items) = value else {
        panic!("not a dict: {value:?}");
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].0, Value::Str("weight".into()));
    assert_eq!(
        items[0].1,
        Value::Tensor(TensorRef {
            kind: "FloatStorage".into(),
            key: "0".into(),
            offset: 0,
            shape: vec![1, 2],
            stride: vec![2, 1],
        })
    );
    assert_eq!(items[1].0, Value::Str("bias".into()));
    assert!(
        matches!(&items[1].1, Value::Tensor(t) if t.key == "1" && t.shape == vec![1]),
        "{:?}",
        items[1].1
    );
}

#[test]
fn truncated_or_unknown_input_is_an_error_not_a_panic() {
    let whole = state_dict_pickle();
    for end in 0..whole.len() - 1 {
        let _ = read(&whole[..end]);
    }
    assert!(read(&whole[..10]).is_err());
    assert!(read(&[0x80, 2, 0xff])
        .unwrap_err()
        .to_string()
        .contains("0xff"));
    // A call to anything but a tensor rebuild is never run: it reads as None.
    assert_eq!(
        read(b"cos\nsystem\nX\x02\x00\x00\x00lsR.").unwrap(),
        Value::None
    );
}
