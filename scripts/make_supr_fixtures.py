#!/usr/bin/env python3
"""Writes the tiny SUPR-layout fixtures and reader fixtures under tests/fixtures/supr/.

Deterministic (seed 20240611). Run from the repository root:

    python3 scripts/make_supr_fixtures.py

What it writes
--------------
* ``supr_tiny.npy.gz`` / ``supr_tiny_constrained.npy.gz``: ``np.save(path, dict)`` files in the
  exact layout of the SUPR model files (75 joints, 60 vertices, 40 faces, 10 betas, a dense affine
  ``J_regressor`` of shape (225, 3V+1), ...), gzip-wrapped only to keep the committed fixtures
  small (the tests inflate them to a temporary ``.npy`` and load that).
* ``supr_tiny.npz``: the unconstrained model again as ``np.savez_compressed(path, **dict)``.
* ``expected.json``: posed vertices and joints for a few random betas / poses / translations,
  computed by ``supr_forward`` below: an independent numpy re-implementation of the SUPR PyTorch
  forward pass (ahmedosman/SUPR, ``supr/pytorch/supr.py`` and ``utils.py``), in float64.
* ``bad_dtype.npy``: a dict holding a complex64 array (an unsupported dtype).
* ``pickle/``: small pickles and .npy files for the reader's unit tests.  Every numeric array
  in them is ``np.arange(n).reshape(shape) * scale + offset`` with the values documented in
  ``reader_fixtures`` so the Rust tests can recompute them without reading any file produced by
  the code under test.
"""

import gzip
import io
import json
import os
import pickle

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "supr")
SEED = 20240611
NUM_VERTS = 60
NUM_FACES = 40
NUM_BETAS = 10

SMPL_NAMES = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
]


def kintree_parents():
    """A plausible 75-joint SUPR tree: SMPL-X's 55 joints (22 body joints in SMPL order, jaw,
    eyes, 2 x 15 finger joints) plus 2 x 10 toe joints (5 toes x 2 phalanges per foot).

    SUPR's real kinematic tree is not in its public source, so this is a stand-in with the
    same size and the same first 22 joints."""
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
    parents += [15, 15, 15]  # jaw, left eye, right eye
    for wrist in (20, 21):  # 5 fingers x 3 joints per hand
        for _ in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    for foot in (10, 11):  # 5 toes x 2 joints per foot
        for _ in range(5):
            base = len(parents)
            parents += [foot, base]
    assert len(parents) == 75
    return parents


def make_model(rng, float_dtype, kintree_dtype):
    parents = kintree_parents()
    nj = len(parents)
    # Rest joints: root at hip height, children offset by 5-15 cm.
    joints = np.zeros((nj, 3))
    joints[0] = [0.0, 0.9, 0.0]
    for j in range(1, nj):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        joints[j] = joints[parents[j]] + d * rng.uniform(0.05, 0.15)
    # Vertices near a joint each (joints spread evenly over the vertices).
    owner = np.array([(v * 5) % nj for v in range(NUM_VERTS)])
    v_template = joints[owner] + rng.normal(scale=0.03, size=(NUM_VERTS, 3))
    # Skinning weights: owner, its parent and (for some) the grandparent, rows sum to 1.
    weights = np.zeros((NUM_VERTS, nj))
    for v in range(NUM_VERTS):
        j = owner[v]
        support = [j]
        if parents[j] >= 0:
            support.append(parents[j])
            if v % 3 == 0 and parents[parents[j]] >= 0:
                support.append(parents[parents[j]])
        w = rng.uniform(0.2, 1.0, size=len(support))
        weights[v, support] = w / w.sum()
    # Faces: distinct vertex triples.
    faces = np.array([rng.choice(NUM_VERTS, size=3, replace=False) for _ in range(NUM_FACES)])
    # Shape blend shapes, smooth in the vertex index.
    k = np.arange(NUM_BETAS)
    phase = rng.uniform(0, 2 * np.pi, size=(3, NUM_BETAS))
    vv = np.arange(NUM_VERTS)[:, None, None]
    shapedirs = 0.01 * np.sin(0.1 * vv * (k + 1) + phase[None]) / (1 + k)
    # Pose blend shapes: sparse like SUPR's, each vertex reads only its skinning joints.
    posedirs = np.zeros((NUM_VERTS, 3, 4 * nj))
    for v in range(NUM_VERTS):
        for j in np.nonzero(weights[v])[0]:
            posedirs[v, :, 4 * j:4 * j + 4] = rng.normal(scale=0.02, size=(3, 4))
    # Affine joint regressor over flattened (v-major, xyz-minor) vertices plus a bias column.
    # Each joint mixes 4 vertices, with small cross-coordinate terms (the real file is a dense
    # (3J, 3V+1) matrix, so nothing forces it to be block diagonal).
    jr = np.zeros((3 * nj, 3 * NUM_VERTS + 1))
    for j in range(nj):
        verts = np.argsort(np.linalg.norm(v_template - joints[j], axis=1))[:4]
        w = rng.uniform(0.5, 1.0, size=4)
        w /= w.sum()
        for c in range(3):
            for vi, wi in zip(verts, w):
                jr[3 * j + c, 3 * vi + c] = wi
                jr[3 * j + c, 3 * vi + (c + 1) % 3] = 0.02 * rng.normal()
    jr[:, -1] = joints.reshape(-1) - jr[:, :-1] @ v_template.reshape(-1)
    kintree = np.zeros((2, nj), dtype=np.int64)
    kintree[1] = np.arange(nj)
    kintree[0] = parents
    if kintree_dtype == np.uint32:
        kintree = kintree.astype(np.uint32)  # root parent becomes 4294967295 as in SMPL files
    return {
        "v_template": v_template.astype(float_dtype),
        "f": faces.astype(np.uint32 if float_dtype == np.float32 else np.int64),
        "shapedirs": shapedirs.astype(float_dtype),
        "posedirs": posedirs.astype(float_dtype),
        "J_regressor": jr.astype(float_dtype),
        "weights": weights.astype(float_dtype),
        "kintree_table": kintree,
    }


def make_axis_meta(rng, nj):
    """A constrained tree in SUPR's `axis_meta` layout: knees, elbows, finger and toe tips are
    hinges, ankles, wrists and finger bases are double hinges, all other joints spherical."""
    hinge_joints = {4, 5, 18, 19}
    double_joints = {7, 8, 20, 21}
    for base in range(25, 55, 3):
        double_joints.add(base)
        hinge_joints.update({base + 1, base + 2})
    for base in range(55, 75, 2):
        hinge_joints.add(base + 1)
    kinds = ["h" if j in hinge_joints else "d" if j in double_joints else "s" for j in range(nj)]
    # Pose vector layout: joints in order, 3 / 1 / 2 slots each.
    slots, cursor = [], 0
    for kind in kinds:
        n = {"s": 3, "h": 1, "d": 2}[kind]
        slots.append(list(range(cursor, cursor + n)))
        cursor += n
    num_pose = cursor
    sph = [j for j in range(nj) if kinds[j] == "s"]
    hin = [j for j in range(nj) if kinds[j] == "h"]
    dbl = [j for j in range(nj) if kinds[j] == "d"]
    order = sph + hin + dbl
    reverse_indx = np.array([order.index(j) for j in range(nj)], dtype=np.int64)
    # Raw axes, then `axis_indx` selects (and permutes) the used ones.
    n_used = len(hin) + 2 * len(dbl)
    raw = rng.normal(size=(1, n_used + 3, 3))
    raw /= np.linalg.norm(raw, axis=2, keepdims=True)
    axis_indx = rng.permutation(n_used + 3)[:n_used].astype(np.int64)
    perm = rng.permutation(n_used)
    return {
        "num_pose": num_pose,
        "indx_spherical": [np.array(slots[j], dtype=np.int64) for j in sph],
        "indx_hinge": [np.array(slots[j], dtype=np.int64) for j in hin],
        "indx_hinge_axis": perm[:len(hin)].astype(np.int64),
        "indx_double_hinge1": np.array([slots[j][0] for j in dbl], dtype=np.int64),
        "indx_double_hinge1_axis": perm[len(hin):len(hin) + len(dbl)].astype(np.int64),
        "indx_double_hinge2": np.array([slots[j][1] for j in dbl], dtype=np.int64),
        "indx_double_hinge2_axis": perm[len(hin) + len(dbl):].astype(np.int64),
        "axis": raw.astype(np.float32),
        "axis_indx": axis_indx,
        "reverse_indx": reverse_indx,
    }


# ---------------------------------------------------------------------------------------------
# Independent numpy SUPR forward (semantics of supr/pytorch/supr.py + utils.py, batch of one).
# ---------------------------------------------------------------------------------------------

def quat_feat(theta):
    """[sin(a/2) n, cos(a/2) - 1] with a = |theta + 1e-8| and n = theta / a, per row."""
    a = np.linalg.norm(theta + 1e-8, axis=-1, keepdims=True)
    n = theta / a
    return np.concatenate([np.sin(a / 2) * n, np.cos(a / 2) - 1], axis=-1)


def rodrigues(theta):
    a = np.linalg.norm(theta + 1e-8, axis=-1, keepdims=True)
    n = theta / a
    q = np.concatenate([np.cos(a / 2), np.sin(a / 2) * n], axis=-1)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (w * y + x * z)], -1),
        np.stack([2 * (w * z + x * y), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (w * x + y * z), w * w - x * x - y * y + z * z], -1),
    ], axis=1)


def hinge_rot(angle, axis):
    """SUPR's hinge matrix: the transpose of the Rodrigues matrix of `angle` about `axis`."""
    out = np.zeros((len(angle), 3, 3))
    for i, (p, ax) in enumerate(zip(angle, axis)):
        c, s = np.cos(p), np.sin(p)
        k = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
        # Rodrigues with the (c + (1-c) a_i^2) diagonal SUPR writes out (no renormalisation).
        r = np.outer(ax, ax) * (1 - c) + s * k
        r[np.diag_indices(3)] = ax ** 2 + c * (1 - ax ** 2)
        out[i] = r.T
    return out


def quat_mult(q1, q2):
    """SUPR's torch_quaternion_multiply on [x, y, z, w'] rows (it is applied to features)."""
    x0, y0, z0, w0 = q1.T
    x1, y1, z1, w1 = q2.T
    return np.stack([
        x1 * w0 + y1 * z0 - z1 * y0 + w1 * x0,
        -x1 * z0 + y1 * w0 + z1 * x0 + w1 * y0,
        x1 * y0 - y1 * x0 + z1 * w0 + w1 * z0,
        -x1 * x0 - y1 * y0 - z1 * z0 + w1 * w0,
    ], axis=-1)


def constrained_rotations(pose, meta):
    axis = np.asarray(meta["axis"], dtype=np.float64)[0][np.asarray(meta["axis_indx"])]
    sph = np.concatenate(meta["indx_spherical"])
    hin = np.concatenate(meta["indx_hinge"])
    sph_pose = pose[sph].reshape(-1, 3)
    feats = [quat_feat(sph_pose)]
    rots = [rodrigues(sph_pose)]
    h_axis = axis[meta["indx_hinge_axis"]]
    rots.append(hinge_rot(pose[hin], h_axis))
    feats.append(quat_feat(h_axis * pose[hin][:, None]))
    p1, p2 = pose[meta["indx_double_hinge1"]], pose[meta["indx_double_hinge2"]]
    a1, a2 = axis[meta["indx_double_hinge1_axis"]], axis[meta["indx_double_hinge2_axis"]]
    rots.append(hinge_rot(p1, a1) @ hinge_rot(p2, a2))
    feats.append(quat_mult(quat_feat(a1 * p1[:, None]), quat_feat(a2 * p2[:, None])))
    rev = meta["reverse_indx"]
    return np.concatenate(feats)[rev], np.concatenate(rots)[rev]


def supr_forward(model, betas, pose, trans, constrained):
    f64 = lambda k: np.asarray(model[k], dtype=np.float64)
    v_template, shapedirs, posedirs = f64("v_template"), f64("shapedirs"), f64("posedirs")
    jr, weights = f64("J_regressor"), f64("weights")
    nv = v_template.shape[0]
    kin = np.asarray(model["kintree_table"]).astype(np.int64)
    col = {kin[1, i]: i for i in range(kin.shape[1])}
    parents = [col[kin[0, i]] for i in range(1, kin.shape[1])]
    nb = len(betas)
    v_shaped = v_template + np.einsum("vck,k->vc", shapedirs[:, :, :nb], betas)
    joints = (jr @ np.concatenate([v_shaped.reshape(-1), [1.0]])).reshape(-1, 3)
    nj = joints.shape[0]
    if constrained:
        feat, rot = constrained_rotations(pose, model["axis_meta"])
    else:
        feat, rot = quat_feat(pose.reshape(nj, 3)), rodrigues(pose.reshape(nj, 3))
    v_posed = v_shaped + np.einsum("vcp,p->vc", posedirs, feat.reshape(-1))
    g = np.zeros((nj, 4, 4))
    for j in range(nj):
        local = np.eye(4)
        local[:3, :3] = rot[j]
        local[:3, 3] = joints[j] - (joints[parents[j - 1]] if j > 0 else 0)
        g[j] = local if j == 0 else g[parents[j - 1]] @ local
    posed_joints = g[:, :3, 3] + trans
    a = g.copy()
    a[:, :3, 3] -= np.einsum("jab,jb->ja", g[:, :3, :3], joints)
    t = np.einsum("vj,jab->vab", weights, a)
    verts = np.einsum("vab,vb->va", t, np.concatenate([v_posed, np.ones((nv, 1))], 1))[:, :3]
    return verts + trans, posed_joints


# ---------------------------------------------------------------------------------------------
# Reader fixtures.
# ---------------------------------------------------------------------------------------------

def reader_payload():
    """The object pickled in pickle/dict_p*.pkl (documented for the Rust unit tests)."""
    return {
        "f8": np.arange(6, dtype="<f8").reshape(2, 3) * 0.5,  # i * 0.5
        "f4_be": (np.arange(4) + 1.0).astype(">f4"),  # i + 1, big-endian
        "i4_fortran": np.asfortranarray(np.arange(12, dtype="<i4").reshape(3, 4) - 5),  # i - 5
        "i8": np.arange(5, dtype="<i8") * -3,  # i * -3
        "u4": np.arange(3, dtype="<u4") + 7,  # i + 7
        "u8_be": (np.arange(2) + 2**40).astype(">u8"),  # i + 2^40, big-endian
        "u1": np.arange(4, dtype="u1") * 2,  # i * 2
        "b": np.array([True, False, True]),
        "f8_3d_fortran": np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4) * 0.25),
        "nested": {
            "n": 7,
            "neg": -300,
            "big": 2**40,
            "x": 2.5,
            "s": "hinge",
            "np_int": np.int64(9),
            "np_float": np.float64(1.25),
            "list": [np.arange(3, dtype="<i8"), np.arange(2, dtype="<i8") + 10],
            "tuple": (1, "a"),
            "none": None,
            "t": True,
            "f": False,
        },
    }


def py2_style_pickle():
    """{'a': [1.5, -2.0, 0.25] (<f8), 'n': 7} spelled as Python 2's cPickle wrote numpy arrays
    (protocol 2, text GLOBALs of `numpy.core`, `str` as SHORT_BINSTRING / BINSTRING), which is
    what `np.load(..., encoding='latin1')` in SUPR's loader exists for."""
    import struct

    def sbs(b):
        return b"U" + bytes([len(b)]) + b

    data = np.array([1.5, -2.0, 0.25], dtype="<f8").tobytes()
    neg1 = b"J" + struct.pack("<i", -1)
    out = b"\x80\x02}q\x00(" + sbs(b"a")
    out += b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02"
    out += b"K\x00\x85q\x03" + sbs(b"b") + b"\x87q\x04Rq\x05"
    out += b"(K\x01K\x03\x85cnumpy\ndtype\nq\x06" + sbs(b"f8") + b"K\x00K\x01\x87Rq\x07"
    out += b"(K\x03" + sbs(b"<") + b"NNN" + neg1 + neg1 + b"K\x00tb"
    out += b"\x89T" + struct.pack("<i", len(data)) + data + b"tb"
    out += sbs(b"n") + b"K\x07u."
    back = pickle.loads(out, encoding="latin1")
    assert back["n"] == 7 and back["a"].tolist() == [1.5, -2.0, 0.25], back
    return out


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def reader_fixtures():
    d = os.path.join(OUT, "pickle")
    os.makedirs(d, exist_ok=True)
    obj = reader_payload()
    assert obj["f4_be"].dtype.str == ">f4" and obj["u8_be"].dtype.str == ">u8"
    assert obj["i4_fortran"].flags.f_contiguous and not obj["i4_fortran"].flags.c_contiguous
    for proto in (2, 3, 4, 5):
        write(os.path.join(d, f"dict_p{proto}.pkl"), pickle.dumps(obj, protocol=proto))
    # numpy 1.x names (`numpy.core.multiarray`): protocol 2 spells globals as text lines, so the
    # module name can be rewritten without touching any length prefix.
    p2 = pickle.dumps(obj, protocol=2)
    p2_old = p2.replace(b"numpy._core.", b"numpy.core.")
    assert p2_old != p2
    assert pickle.loads(p2_old)["nested"]["n"] == 7
    write(os.path.join(d, "dict_p2_numpy1.pkl"), p2_old)
    write(os.path.join(d, "py2_style.pkl"), py2_style_pickle())
    # np.save of a dict (0-d object array whose payload is a protocol-3/4 pickle).
    np.save(os.path.join(d, "dict_object.npy"), obj, allow_pickle=True)
    # Plain arrays: big-endian Fortran-order f8 (header v1), little i4 with header v2 and v3.
    be = np.asfortranarray((np.arange(24).reshape(2, 3, 4) * 0.25).astype(">f8"))
    assert be.dtype.str == ">f8" and be.flags.f_contiguous
    np.save(os.path.join(d, "plain_be_fortran.npy"), be)
    for ver in ((2, 0), (3, 0)):
        with open(os.path.join(d, f"plain_v{ver[0]}.npy"), "wb") as fh:
            np.lib.format.write_array(fh, np.arange(6, dtype="<i4").reshape(3, 2) - 2, version=ver)
    np.save(os.path.join(d, "plain_bool.npy"), np.array([[True, False], [False, True]]))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    reader_fixtures()

    plain = make_model(rng, np.float32, np.uint32)
    constrained = make_model(rng, np.float64, np.int64)
    constrained["axis_meta"] = make_axis_meta(rng, 75)

    def save_gz(name, model):
        buf = io.BytesIO()
        np.save(buf, model, allow_pickle=True)
        write(os.path.join(OUT, name), gzip.compress(buf.getvalue(), 9, mtime=0))

    save_gz("supr_tiny.npy.gz", plain)
    save_gz("supr_tiny_constrained.npy.gz", constrained)
    np.savez_compressed(os.path.join(OUT, "supr_tiny.npz"), **plain)
    np.save(os.path.join(OUT, "bad_dtype.npy"),
            {"v_template": np.zeros((2, 3), dtype=np.complex64)}, allow_pickle=True)

    cases = []
    nj = 75
    for i in range(3):
        betas = rng.normal(scale=1.5, size=NUM_BETAS)
        pose = rng.normal(scale=0.4, size=3 * nj)
        if i == 1:
            # One joint beyond pi: SUPR's feature keeps cos(theta/2) < 0 there.
            pose[15:18] *= 3.6 / np.linalg.norm(pose[15:18])
        if i == 2:
            betas = betas[:6]  # fewer betas than the model has: the rest count as zero
        trans = rng.normal(scale=0.5, size=3)
        v, j = supr_forward(plain, betas, pose, trans, constrained=False)
        cases.append(dict(model="supr_tiny.npy.gz", constrained=False, betas=betas.tolist(),
                          pose=pose.tolist(), trans=trans.tolist(), vertices=v.tolist(),
                          joints=j.tolist()))
    num_pose = constrained["axis_meta"]["num_pose"]
    for i in range(3):
        betas = rng.normal(scale=1.5, size=NUM_BETAS)
        pose = rng.normal(scale=0.5, size=num_pose)
        trans = rng.normal(scale=0.5, size=3)
        v, j = supr_forward(constrained, betas, pose, trans, constrained=True)
        cases.append(dict(model="supr_tiny_constrained.npy.gz", constrained=True,
                          betas=betas.tolist(), pose=pose.tolist(), trans=trans.tolist(),
                          vertices=v.tolist(), joints=j.tolist()))
    # The constrained file used with a plain axis-angle pose (SUPR with constrained=False).
    betas = rng.normal(size=NUM_BETAS)
    pose = rng.normal(scale=0.3, size=3 * nj)
    trans = rng.normal(scale=0.5, size=3)
    v, j = supr_forward(constrained, betas, pose, trans, constrained=False)
    cases.append(dict(model="supr_tiny_constrained.npy.gz", constrained=False,
                      betas=betas.tolist(), pose=pose.tolist(), trans=trans.tolist(),
                      vertices=v.tolist(), joints=j.tolist()))
    doc = {
        "generator": "scripts/make_supr_fixtures.py (independent numpy SUPR forward, float64)",
        "num_pose_constrained": num_pose,
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(doc, fh)


if __name__ == "__main__":
    main()
