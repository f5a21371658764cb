"""Shared helpers for the timm / OpenCLIP reference scripts.

Needs PyTorch (1.13 or newer), torchvision, numpy and PIL, plus a timm and an
open_clip checkout importable from PYTHONPATH (open_clip with its ``src``
directory on the path).  See README.md in this directory.
"""

import copy
import json
import math
import os
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DIR = os.path.join(REPO_ROOT, 'tests', 'golden')
KEYS_DIR = os.path.join(REPO_ROOT, 'tests', 'keys')
IMAGES_DIR = os.path.join(REPO_ROOT, 'examples', 'images')

# --------------------------------------------------------------------------------------------
# imports (timm first, then open_clip with small compatibility shims for older torch)
# --------------------------------------------------------------------------------------------

_timm = None
_open_clip = None


def import_timm():
    global _timm
    if _timm is None:
        try:
            import timm  # noqa: F401
            import timm.data  # noqa: F401
        except ImportError as e:
            sys.exit('cannot import timm (%s): put a timm checkout on PYTHONPATH' % e)
        _timm = timm
    return _timm


def _install_open_clip_shims():
    """open_clip's top-level import touches a few things that older torch releases and a
    bare Python install lack.  None of them are used by the image tower; stub them only
    when missing, never touching the open_clip sources."""
    if not hasattr(torch, 'compiler'):
        def _disable(fn=None, *args, **kwargs):
            if fn is None:
                return lambda f: f
            return fn
        torch.compiler = types.SimpleNamespace(disable=_disable, is_compiling=lambda: False)
    from torch import amp as _amp
    if not hasattr(_amp, 'GradScaler'):
        from torch.cuda import amp as _cuda_amp
        _amp.GradScaler = _cuda_amp.GradScaler
    import torch.nn.functional as F
    if not hasattr(F, 'scaled_dot_product_attention'):
        # plain softmax(q k^T * scale) v, what the fused kernel computes
        def _sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
            scale = q.shape[-1] ** -0.5 if scale is None else scale
            attn = (q * scale) @ k.transpose(-2, -1)
            if is_causal:
                L, S = q.shape[-2], k.shape[-2]
                keep = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
                attn = attn.masked_fill(~keep, float('-inf'))
            if attn_mask is not None:
                if attn_mask.dtype == torch.bool:
                    attn = attn.masked_fill(~attn_mask, float('-inf'))
                else:
                    attn = attn + attn_mask
            return attn.softmax(dim=-1) @ v
        F.scaled_dot_product_attention = _sdpa
    import importlib
    for name in ('ftfy', 'regex', 'tqdm'):
        try:
            importlib.import_module(name)
            continue
        except ImportError:
            pass
        mod = types.ModuleType(name)
        if name == 'ftfy':
            mod.fix_text = lambda s: s
        elif name == 'regex':
            import re
            mod.__dict__.update({k: v for k, v in re.__dict__.items() if not k.startswith('__')})

            def _compile(pattern, flags=0):
                try:
                    return re.compile(pattern, flags)
                except re.error:
                    return None  # unicode classes (\p{L}) of the text tokenizer; unused here
            mod.compile = _compile
        elif name == 'tqdm':
            mod.tqdm = lambda it=None, *a, **k: it
        sys.modules[name] = mod


def import_open_clip():
    global _open_clip
    if _open_clip is None:
        import_timm()  # timm picks its attention path at import time; import it before the shims
        _install_open_clip_shims()
        try:
            import open_clip  # noqa: F401
        except ImportError as e:
            sys.exit('cannot import open_clip (%s): put an open_clip checkout (its src/) on PYTHONPATH' % e)
        _open_clip = open_clip
    return _open_clip


# --------------------------------------------------------------------------------------------
# safetensors (written by hand: 8-byte LE header length, JSON header, raw LE data)
# --------------------------------------------------------------------------------------------

_DTYPES = {
    'F64': np.dtype('<f8'), 'F32': np.dtype('<f4'), 'F16': np.dtype('<f2'),
    'I64': np.dtype('<i8'), 'I32': np.dtype('<i4'), 'I16': np.dtype('<i2'), 'I8': np.dtype('i1'),
    'U8': np.dtype('u1'), 'BOOL': np.dtype('?'),
}


def save_safetensors(path, tensors, metadata=None):
    """tensors: ordered mapping name -> torch tensor / numpy array, stored as F32."""
    header = OrderedDict()
    if metadata:
        header['__metadata__'] = OrderedDict((str(k), str(v)) for k, v in metadata.items())
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().to(torch.float32).contiguous().numpy()
        a = np.ascontiguousarray(np.asarray(t, dtype=np.float32)).astype('<f4', copy=False)
        b = a.tobytes()
        header[name] = OrderedDict([('dtype', 'F32'), ('shape', list(a.shape)),
                                    ('data_offsets', [offset, offset + len(b)])])
        blobs.append(b)
        offset += len(b)
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Returns an OrderedDict name -> float64 numpy array (F32/F16/BF16/F64/int types)."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n].decode('utf-8'), object_pairs_hook=OrderedDict)
    base = 8 + n
    out = OrderedDict()
    for name, info in header.items():
        if name == '__metadata__':
            continue
        s, e = info['data_offsets']
        raw = data[base + s:base + e]
        dt = info['dtype']
        if dt == 'BF16':
            u = np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16
            a = u.view('<f4')
        else:
            a = np.frombuffer(raw, dtype=_DTYPES[dt])
        out[name] = a.astype(np.float64).reshape(info['shape'])
    return out


# --------------------------------------------------------------------------------------------
# architectures
# --------------------------------------------------------------------------------------------
# full: the full-size model's values of the override keys the .vit specs accept
# tiny: the values of the small model used for the committed goldens (only keys that differ)
# jpeg: this arch carries the JPEG golden of its family

ARCHS = OrderedDict()


def _arch(name, kind, source, family, full, tiny, jpeg=False, resample=None, notes=()):
    ARCHS[name] = dict(name=name, kind=kind, source=source, family=family, full=full, tiny=tiny,
                       jpeg=jpeg, resample=resample, notes=list(notes))


# DeiT (timm deit.py, fb_in1k weights)
_arch('deit_tiny_patch16_224', 'timm', 'deit_tiny_patch16_224.fb_in1k', 'deit',
      dict(size=224, patch=16, dim=192, depth=12, heads=3, mlp=768, classes=1000, pos_grid=14),
      dict(size=48, dim=48, depth=2, heads=3, mlp=192, classes=10, pos_grid=3), jpeg=True)
_arch('deit_small_patch16_224', 'timm', 'deit_small_patch16_224.fb_in1k', 'deit',
      dict(size=224, patch=16, dim=384, depth=12, heads=6, mlp=1536, classes=1000, pos_grid=14),
      dict(size=48, dim=48, depth=2, heads=2, mlp=192, classes=10, pos_grid=3))
_arch('deit_base_patch16_224', 'timm', 'deit_base_patch16_224.fb_in1k', 'deit',
      dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=1000, pos_grid=14),
      dict(size=48, dim=64, depth=2, heads=4, mlp=256, classes=10, pos_grid=3))

# DINO (v1) self-supervised, no classifier head (num_classes=0)
_arch('vit_small_patch16_224_dino', 'timm', 'vit_small_patch16_224.dino', 'dino',
      dict(size=224, patch=16, dim=384, depth=12, heads=6, mlp=1536, classes=0, pos_grid=14),
      dict(size=48, dim=48, depth=2, heads=3, mlp=192, pos_grid=3), jpeg=True)
_arch('vit_base_patch16_224_dino', 'timm', 'vit_base_patch16_224.dino', 'dino',
      dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=0, pos_grid=14),
      dict(size=48, dim=48, depth=2, heads=4, mlp=192, pos_grid=3))

# DINOv2 (LayerScale, checkpoint pos_embed for 518 px = 37x37 grid), optional 4 register tokens
_DINOV2_RESAMPLE = dict(pos_grid=9, size=56)  # checkpoint grid 9x9 (126 px) run at 56 px (4x4 grid)
_arch('vit_small_patch14_dinov2', 'timm', 'vit_small_patch14_dinov2.lvd142m', 'dinov2',
      dict(size=518, patch=14, dim=384, depth=12, heads=6, mlp=1536, classes=0, pos_grid=37, reg=0),
      dict(size=56, dim=48, depth=2, heads=3, mlp=192, pos_grid=4), jpeg=True,
      resample=_DINOV2_RESAMPLE)
_arch('vit_base_patch14_dinov2', 'timm', 'vit_base_patch14_dinov2.lvd142m', 'dinov2',
      dict(size=518, patch=14, dim=768, depth=12, heads=12, mlp=3072, classes=0, pos_grid=37, reg=0),
      dict(size=56, dim=48, depth=2, heads=2, mlp=192, pos_grid=4),
      resample=_DINOV2_RESAMPLE)
_arch('vit_small_patch14_reg4_dinov2', 'timm', 'vit_small_patch14_reg4_dinov2.lvd142m', 'dinov2',
      dict(size=518, patch=14, dim=384, depth=12, heads=6, mlp=1536, classes=0, pos_grid=37, reg=4),
      dict(size=56, dim=48, depth=2, heads=3, mlp=192, pos_grid=4),
      resample=_DINOV2_RESAMPLE)
_arch('vit_base_patch14_reg4_dinov2', 'timm', 'vit_base_patch14_reg4_dinov2.lvd142m', 'dinov2',
      dict(size=518, patch=14, dim=768, depth=12, heads=12, mlp=3072, classes=0, pos_grid=37, reg=4),
      dict(size=56, dim=48, depth=2, heads=4, mlp=192, pos_grid=4),
      resample=_DINOV2_RESAMPLE)

# CLIP image towers in timm layout (config of timm's `.openai` tag: the head is CLIP's projection)
_CLIP_NOTE = ("timm's `.openai` tag builds this model with nn.GELU (erf); the OpenAI weights were "
              "trained with QuickGELU, which timm offers as the separate model "
              "`%s` (same keys and shapes, act_layer='quick_gelu', no pretrained tag).")
_arch('vit_base_patch16_clip_224', 'timm', 'vit_base_patch16_clip_224.openai', 'clip',
      dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=512, pos_grid=14),
      dict(size=48, dim=48, depth=2, heads=3, mlp=192, classes=16, pos_grid=3), jpeg=True,
      notes=[_CLIP_NOTE % 'vit_base_patch16_clip_quickgelu_224'])
_arch('vit_large_patch14_clip_224', 'timm', 'vit_large_patch14_clip_224.openai', 'clip',
      dict(size=224, patch=14, dim=1024, depth=24, heads=16, mlp=4096, classes=768, pos_grid=16),
      dict(size=42, dim=48, depth=2, heads=2, mlp=192, classes=16, pos_grid=3),
      notes=[_CLIP_NOTE % 'vit_large_patch14_clip_quickgelu_224'])

# OpenCLIP native towers: model configs ViT-B-16 / ViT-L-14 (GELU; the LAION weights the paper
# uses) and ViT-B-16-quickgelu / ViT-L-14-quickgelu (QuickGELU; the OpenAI weights)
OPENCLIP_PRETRAINED = {'ViT-B-16': 'laion2b_s34b_b88k', 'ViT-L-14': 'laion2b_s32b_b82k'}
for _q in ('', '_quickgelu'):
    _arch('openclip_vit_b_16' + _q, 'openclip', 'ViT-B-16' + _q.replace('_', '-'), 'openclip',
          dict(size=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, proj=512, pos_grid=14),
          dict(size=48, dim=64, depth=2, heads=2, mlp=256, proj=16, pos_grid=3), jpeg=True)
    _arch('openclip_vit_l_14' + _q, 'openclip', 'ViT-L-14' + _q.replace('_', '-'), 'openclip',
          dict(size=224, patch=14, dim=1024, depth=24, heads=16, mlp=4096, proj=768, pos_grid=16),
          dict(size=42, dim=48, depth=2, heads=3, mlp=192, proj=16, pos_grid=3))


def openclip_pretrained(source):
    """(model config without -quickgelu, pretrained tag) whose preprocessing a user gets."""
    base = source.replace('-quickgelu', '')
    return base, ('openai' if source.endswith('-quickgelu') else OPENCLIP_PRETRAINED[base])


# text tower of the small OpenCLIP goldens: just big enough to give a whole-CLIP state dict
TINY_TEXT_CFG = dict(context_length=8, vocab_size=64, width=32, heads=2, layers=1)


def tiny_values(arch):
    v = dict(arch['full'])
    v.update(arch['tiny'])
    return v


def arch_seed(name, salt=0):
    s = 0
    for ch in name:
        s = (s * 131 + ord(ch)) % 1000003
    return 1000 + s + 7919 * salt


# --------------------------------------------------------------------------------------------
# model construction
# --------------------------------------------------------------------------------------------

def timm_kwargs(values):
    """timm VisionTransformer kwargs for a dict of spec values (model built at its checkpoint size)."""
    return dict(
        img_size=values['pos_grid'] * values['patch'],
        patch_size=values['patch'],
        embed_dim=values['dim'],
        depth=values['depth'],
        num_heads=values['heads'],
        mlp_ratio=values['mlp'] / values['dim'],
        num_classes=values.get('classes', 0),
    )


def build_timm(arch, values, img_size=None):
    timm = import_timm()
    kw = timm_kwargs(values)
    if img_size is not None:
        kw['img_size'] = img_size
    model = timm.create_model(arch['source'], pretrained=False, **kw)
    return model.eval()


def openclip_cfg(arch, values, tiny_text=False):
    oc = import_open_clip()
    cfg = copy.deepcopy(oc.get_model_config(arch['source']))
    vc = cfg['vision_cfg']
    vc['image_size'] = values['size']
    vc['patch_size'] = values['patch']
    vc['width'] = values['dim']
    vc['layers'] = values['depth']
    vc['head_width'] = values['dim'] // values['heads']
    vc['mlp_ratio'] = values['mlp'] / values['dim']
    cfg['embed_dim'] = values['proj']
    if tiny_text:
        cfg['text_cfg'].update(TINY_TEXT_CFG)
    return cfg


def build_openclip(arch, values, tiny_text=False):
    oc = import_open_clip()
    cfg = openclip_cfg(arch, values, tiny_text=tiny_text)
    model = oc.model.CLIP(**cfg)
    return model.eval(), cfg


# --------------------------------------------------------------------------------------------
# deterministic perturbation of every parameter
# --------------------------------------------------------------------------------------------

_TOKEN_NAMES = ('cls_token', 'reg_token', 'dist_token', 'pos_embed', 'class_embedding',
                'positional_embedding')


@torch.no_grad()
def perturb(model, seed):
    """Overwrite every parameter with seeded values so none is trivially 0 or 1 while
    activations stay O(1): norms 1+0.1*randn / 0.1*randn, LayerScale 0.5+0.2*randn, biases
    0.05*randn, tokens/position embeddings 0.5*randn, weights randn/sqrt(fan_in)."""
    g = torch.Generator().manual_seed(seed)
    norm_params = set()
    for mname, m in model.named_modules():
        if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
            for pname, _ in m.named_parameters(recurse=False):
                norm_params.add((mname + '.' + pname) if mname else pname)

    def randn(shape):
        return torch.randn(tuple(shape), generator=g, dtype=torch.float32)

    for name, p in model.named_parameters():
        leaf = name.rsplit('.', 1)[-1]
        if name in norm_params:
            v = (1.0 + 0.1 * randn(p.shape)) if leaf == 'weight' else 0.1 * randn(p.shape)
        elif leaf in ('gamma', 'gamma_1', 'gamma_2') or name.endswith('ls1.gamma') or name.endswith('ls2.gamma'):
            v = 0.5 + 0.2 * randn(p.shape)
        elif leaf in _TOKEN_NAMES:
            v = 0.5 * randn(p.shape)
        elif leaf == 'logit_scale':
            v = math.log(1 / 0.07) + 0.1 * randn(p.shape)
        elif leaf == 'logit_bias':
            v = -1.0 + 0.1 * randn(p.shape)
        elif p.dim() <= 1:
            v = 0.05 * randn(p.shape)
        elif leaf in ('proj', 'text_projection'):
            # OpenCLIP projections are used as x @ proj: fan_in is the first dim
            v = randn(p.shape) / math.sqrt(p.shape[0])
        elif leaf == 'token_embedding' or name.endswith('token_embedding.weight'):
            v = randn(p.shape)
        else:
            fan_in = int(np.prod(p.shape[1:]))
            v = randn(p.shape) / math.sqrt(fan_in)
        p.copy_(v.to(p.dtype))
    return model


# --------------------------------------------------------------------------------------------
# forward passes (reference values in float64, stored as F32)
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def timm_outputs(model, x):
    m = copy.deepcopy(model).double().eval()
    x = x.double()
    feats = m.forward_features(x)
    out = OrderedDict()
    out['repr'] = m.forward_head(feats, pre_logits=True)
    if m.num_classes > 0:
        out['logits'] = m(x)
    return out


@torch.no_grad()
def openclip_outputs(model, x):
    v = copy.deepcopy(model.visual).double().eval()  # encode_image(x) is visual(x)
    xd = x.double()
    tokens = v.transformer(v._embeds(xd))
    pooled, _ = v._pool(tokens)  # class token after ln_post, before the projection
    out = OrderedDict()
    out['repr'] = pooled
    out['logits'] = v(xd)
    err = (pooled @ v.proj - out['logits']).abs().max().item()
    assert err < 1e-9, 'repr @ proj != visual(x) (%g)' % err
    f32 = model.encode_image(x.float(), normalize=False).double()
    err = ((f32 - out['logits']).abs().max() / out['logits'].abs().max()).item()
    assert err < 1e-4, 'encode_image disagrees with the float64 pass (%g)' % err
    return out


def model_outputs(arch, model, x):
    if arch['kind'] == 'timm':
        return timm_outputs(model, x)
    return openclip_outputs(model, x)


# --------------------------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------------------------

def pretrained_preprocess(arch):
    """The full model's eval preprocessing as its pretrained config gives it."""
    if arch['kind'] == 'timm':
        import_timm()
        from timm.models import get_pretrained_cfg
        pc = get_pretrained_cfg(arch['source']).to_dict()
        return OrderedDict([
            ('pretrained_tag', arch['source']),
            ('input_size', list(pc['input_size'])),
            ('crop_pct', pc.get('crop_pct') or 0.875),
            ('crop_mode', pc.get('crop_mode') or 'center'),
            ('interpolation', pc.get('interpolation') or 'bilinear'),
            ('mean', [float(v) for v in pc['mean']]),
            ('std', [float(v) for v in pc['std']]),
            ('resize', 'shorter side to floor(size / crop_pct) (longer side scaled, truncated), '
                       'PIL resample, then center crop size x size'),
        ])
    oc = import_open_clip()
    base, tag = openclip_pretrained(arch['source'])
    pc = oc.get_pretrained_cfg(base, tag)
    size = oc.get_model_config(arch['source'])['vision_cfg']['image_size']
    return OrderedDict([
        ('pretrained_tag', base + ' ' + tag + (' (quick_gelu)' if tag == 'openai' else '')),
        ('input_size', [3, size, size]),
        ('crop_pct', 1.0),
        ('crop_mode', 'center'),
        ('interpolation', pc.get('interpolation', 'bicubic')),
        ('mean', [float(v) for v in pc.get('mean', oc.OPENAI_DATASET_MEAN)]),
        ('std', [float(v) for v in pc.get('std', oc.OPENAI_DATASET_STD)]),
        ('resize', 'resize_mode=%s: shorter side to size (longer side scaled, truncated), PIL resample, '
                   'then center crop size x size' % pc.get('resize_mode', 'shortest')),
    ])


def eval_transform(arch, model, size):
    """The eval transform a user of timm / OpenCLIP applies, at input size `size`."""
    if arch['kind'] == 'timm':
        timm = import_timm()
        cfg = timm.data.resolve_data_config({'input_size': (3, size, size)}, model=model)
        return timm.data.create_transform(**cfg), cfg
    oc = import_open_clip()
    pc = oc.get_pretrained_cfg(*openclip_pretrained(arch['source']))
    cfg = dict(input_size=(3, size, size), crop_pct=1.0, crop_mode='center',
               interpolation=pc.get('interpolation', 'bicubic'),
               mean=tuple(pc.get('mean', oc.OPENAI_DATASET_MEAN)),
               std=tuple(pc.get('std', oc.OPENAI_DATASET_STD)),
               resize_mode=pc.get('resize_mode', 'shortest'))
    t = oc.image_transform(size, is_train=False, mean=cfg['mean'], std=cfg['std'],
                           resize_mode=cfg['resize_mode'], interpolation=cfg['interpolation'])
    return t, cfg


def load_image_tensor(arch, model, size, path):
    from PIL import Image
    t, cfg = eval_transform(arch, model, size)
    with Image.open(path) as im:
        im = im.convert('RGB')
        x = t(im)
    return x.unsqueeze(0), cfg


# --------------------------------------------------------------------------------------------
# facts about the full-size model (for the spec author)
# --------------------------------------------------------------------------------------------

def _act_name(act):
    n = type(act).__name__
    if isinstance(act, nn.GELU):
        return 'gelu_tanh' if getattr(act, 'approximate', 'none') == 'tanh' else 'gelu_erf'
    if n == 'QuickGELU':
        return 'quick_gelu (x * sigmoid(1.702 x))'
    return n


def _norm_eps(model):
    eps = OrderedDict()
    for mname, m in model.named_modules():
        if isinstance(m, nn.LayerNorm):
            import re
            key = re.sub(r'\.\d+\.', '.*.', mname)
            eps.setdefault(key, m.eps)
    return eps


def _is_identity(m):
    return m is None or isinstance(m, nn.Identity)


def timm_facts(model):
    b0 = model.blocks[0]
    ls = b0.ls1
    ls_init = None
    if hasattr(ls, 'gamma'):
        ls_init = float('%.6g' % ls.gamma.flatten()[0].item())
    facts = OrderedDict()
    facts['class_token'] = model.cls_token is not None
    facts['reg_tokens'] = int(model.num_reg_tokens)
    facts['num_prefix_tokens'] = int(model.num_prefix_tokens)
    facts['token_order'] = ['cls'] * int(model.cls_token is not None) + ['reg'] * int(model.num_reg_tokens) + ['patches']
    facts['no_embed_class'] = bool(model.no_embed_class)
    facts['pos_embed_shape'] = list(model.pos_embed.shape) if model.pos_embed is not None else None
    facts['patch_embed_bias'] = model.patch_embed.proj.bias is not None
    facts['pre_norm'] = not _is_identity(model.norm_pre)
    facts['final_norm'] = not _is_identity(model.norm)
    facts['fc_norm'] = not _is_identity(model.fc_norm)
    facts['global_pool'] = model.global_pool
    facts['block'] = 'pre-LN: x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x)))'
    facts['layer_scale'] = ls_init is not None
    facts['layer_scale_init'] = ls_init
    facts['qkv_bias'] = b0.attn.qkv.bias is not None
    facts['qk_norm'] = not _is_identity(getattr(b0.attn, 'q_norm', None))
    facts['attn_scale'] = 'head_dim ** -0.5'
    facts['qkv_layout'] = 'qkv.weight rows = [q | k | v], each split into heads of head_dim'
    facts['act'] = _act_name(b0.mlp.act)
    facts['mlp_hidden'] = int(b0.mlp.fc1.out_features)
    facts['norm_eps'] = _norm_eps(model)
    head = model.head
    facts['head'] = (OrderedDict([('weight', list(head.weight.shape)), ('bias', head.bias is not None),
                                  ('layout', 'nn.Linear: y = x W^T + b')])
                     if isinstance(head, nn.Linear) else None)
    facts['repr'] = 'forward_head(forward_features(x), pre_logits=True)'
    facts['logits'] = 'model(x) = head(repr)' if isinstance(head, nn.Linear) else None
    facts['dynamic_img_size'] = bool(model.dynamic_img_size)
    return facts


def openclip_facts(model, cfg):
    v = model.visual
    b0 = v.transformer.resblocks[0]
    facts = OrderedDict()
    facts['class_token'] = True
    facts['reg_tokens'] = 0
    facts['num_prefix_tokens'] = 1
    facts['token_order'] = ['cls', 'patches']
    facts['no_embed_class'] = False
    facts['pos_embed_shape'] = list(v.positional_embedding.shape)
    facts['patch_embed_bias'] = v.conv1.bias is not None
    facts['pre_norm'] = not _is_identity(v.ln_pre)
    facts['final_norm'] = True
    facts['fc_norm'] = False
    facts['global_pool'] = v.pool_type
    facts['final_ln_after_pool'] = bool(v.final_ln_after_pool)
    facts['block'] = 'pre-LN: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))'
    facts['layer_scale'] = not _is_identity(b0.ls_1)
    facts['layer_scale_init'] = None
    facts['qkv_bias'] = getattr(b0.attn, 'in_proj_bias', None) is not None
    facts['qk_norm'] = False
    facts['attn_scale'] = 'head_dim ** -0.5'
    facts['qkv_layout'] = 'attn.in_proj_weight rows = [q | k | v], each split into heads of head_dim'
    facts['act'] = _act_name(b0.mlp.gelu)
    facts['mlp_hidden'] = int(b0.mlp.c_fc.out_features)
    facts['norm_eps'] = OrderedDict(('visual.' + k, e) for k, e in _norm_eps(v).items())
    facts['head'] = None
    facts['proj'] = OrderedDict([('shape', list(v.proj.shape)), ('bias', False),
                                 ('layout', 'logits = repr @ visual.proj (no transpose)')])
    facts['repr'] = 'class token after ln_post, before the projection'
    facts['logits'] = 'model.encode_image(x) (not normalised) = repr @ visual.proj'
    facts['quick_gelu'] = bool(cfg.get('quick_gelu', False))
    facts['checkpoint_keys'] = ('the checkpoint holds the whole CLIP state dict (text tower, '
                                'logit_scale, ...); the image tower is visual.*')
    return facts


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')


def set_determinism():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
