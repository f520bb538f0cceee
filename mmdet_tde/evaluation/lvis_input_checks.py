"""Every check of LVIS annotations and results, naming the bad entry and field.

A new user's mistakes otherwise surface as a cast error deep in the matching engines, a
silently wrong AP (``True`` is category 1, ``1.0`` image 1) or a crash (an infinite polygon
coordinate makes the rasteriser allocate without bound; RLE counts that do not add up to the
mask make it read past its runs). The checks are cheap at LVIS scale (millions of detections):
per-item work runs in C (``map``, ``set``, ``str.join``, numpy), and Python loops run only to
find the first bad entry once a check has failed. :func:`check_results` returns the results as
the columns evaluation reads, so that they are converted once.
"""
from itertools import chain, repeat, starmap
from operator import eq, is_, itemgetter, mul
from typing import Callable, List, Optional, Sequence

import numpy as np

IOU_TYPES = ('bbox', 'segm', 'boundary')
FREQUENCIES = ('r', 'c', 'f')
_MISSING = object()
_INT_TYPES = (int, np.integer)
_NUMBER_TYPES = (int, float, np.integer, np.floating)
# Compressed RLE counts decoded per batch of this many characters: a batch's arrays stay in
# the CPU's cache and in reused memory (batches of 4M characters decoded ~3x slower here).
_RLE_CHARS_PER_BATCH = 1 << 18
# One run of a compressed count takes at most this many characters (5 bits each): 60 bits,
# far more than any mask needs and still exact in int64.
_RLE_MAX_CHARS_PER_RUN = 12
# Run lengths are clipped to this before summing, so that sums of garbage cannot overflow.
_MAX_PIXELS = 1 << 36
# A compressed RLE character's value as a run's last character (bits 0x1f, 0x10 the sign).
_LAST_CHARACTER_VALUE = np.array([c - 32 * (c >= 16) for c in range(32)] + [0] * 32, np.int64)
# Polygon coordinates may lie this many image sizes outside the image (rasterising cost grows
# with the extent; coordinates further out are garbage, not a mask).
_POLYGON_MARGIN = 1.0
_NOT_A_MASK = ("field 'segmentation' is neither an RLE dict nor a list of polygons "
               '[[x1, y1, x2, y2, x3, y3, ...], ...]')
_BAD_CHARACTERS = 'it has characters other than 0-9:;<=>?@A-Z[\\]^_`a-o'


def check_lvis_annotations(dataset) -> None:
    """Raise ValueError naming the first entry and field of an LVIS annotation dict that
    LVIS evaluation cannot use: wrong types, missing boxes, areas or image sizes, ids that are
    duplicated or unknown, no frequency group, masks that do not fit their image."""
    if not isinstance(dataset, dict):
        hint = ' (is it a results file?)' if isinstance(dataset, list) else ''
        raise ValueError("LVIS annotations must be a JSON object with 'images', 'annotations' "
                         f"and 'categories', got a JSON {type(dataset).__name__}{hint}")
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f"LVIS annotations need a list '{key}', got "
                             f'{type(dataset.get(key)).__name__}')
    cats, imgs, anns = dataset['categories'], dataset['images'], dataset['annotations']
    for what, items in (('categories', cats), ('images', imgs), ('annotations', anns)):
        _check_dicts(items, what)
    cat_ids = _unique_ids(cats, 'categories')
    frequencies = [cat.get('frequency') for cat in cats]
    if not all(map(FREQUENCIES.__contains__, frequencies)):
        idx = next(i for i, f in enumerate(frequencies) if f not in FREQUENCIES)
        raise ValueError(f"{_entry(cats, 'categories', idx)}: field 'frequency' is "
                         f"{frequencies[idx]!r}; allowed: {', '.join(map(repr, FREQUENCIES))}")
    img_ids = _unique_ids(imgs, 'images')
    heights = _values(imgs, 'images', 'height', _INT_TYPES, 'an integer > 0')
    widths = _values(imgs, 'images', 'width', _INT_TYPES, 'an integer > 0')
    for key, values in (('height', heights), ('width', widths)):
        _first(imgs, 'images', key, [v <= 0 for v in values], 'an integer > 0')
    for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
        lists = [img.get(key) for img in imgs]
        idx = _first_wrong_type(lists, list)
        if idx is not None:
            raise ValueError(f"{_entry(imgs, 'images', idx)}: field '{key}' is missing or not "
                             'a list; LVIS annotations list the negative and not-exhaustive '
                             'categories of every image')
        if not _types_ok(chain.from_iterable(lists), _INT_TYPES):
            _first(imgs, 'images', key, [not _types_ok(v, _INT_TYPES) for v in lists],
                   'a list of integers, category ids of the annotations')
        _check_known(list(chain.from_iterable(lists)), cat_ids, key, 'a category id',
                     lambda k: _entry(imgs, 'images', k), owner=np.repeat(
                         np.arange(len(lists)), list(map(len, lists))))

    _unique_ids(anns, 'annotations')
    for key, known, allowed in (('image_id', img_ids, 'an image id'),
                                ('category_id', cat_ids, 'a category id')):
        values = _values(anns, 'annotations', key, _INT_TYPES,
                         f'an integer, {allowed} of the annotations')
        _check_known(values, known, key, allowed, lambda k: _entry(anns, 'annotations', k))
    areas = [ann.get('area') for ann in anns]
    idx = _first_wrong_type(areas, _NUMBER_TYPES)
    if idx is not None:
        raise ValueError(f"{_entry(anns, 'annotations', idx)}: field 'area' is {areas[idx]!r}; "
                         'allowed: a number (LVIS evaluation selects ground truth by area)')
    _check_box_values(_box_array(anns, 'annotations'), lambda k: _entry(anns, 'annotations', k))
    with_segm = [i for i, ann in enumerate(anns) if 'segmentation' in ann]
    if with_segm:
        sizes = {img_id: [h, w] for img_id, h, w in zip(img_ids, heights, widths)}
        _check_segmentations([anns[i]['segmentation'] for i in with_segm],
                             [anns[i]['image_id'] for i in with_segm], sizes,
                             lambda k: _entry(anns, 'annotations', with_segm[k]), min_polygon=4)


def check_results(results: Sequence[dict], gt, iou_type: str) -> dict:
    """Raise ValueError naming the first detection and field that LVIS evaluation cannot use
    or would misread; return the detections as columns: ``image_id``, ``category_id`` (int64),
    ``score`` (float64), ``bbox`` ((N, 4) float64, or None for masks without boxes) and
    ``segmentation`` (a list, or None for boxes). ``gt`` gives ``imgs`` and ``cats`` by id."""
    masks = check_iou_type(iou_type)
    if not isinstance(results, (list, tuple)):
        raise ValueError(f'results must be a list of detections, got {type(results).__name__}')
    _check_dicts(results, 'results', 'a dict')
    # Mask results may carry boxes; then both LVIS and COCO APIs take areas from them.
    has_boxes = not masks or bool(results) and 'bbox' in results[0]
    if masks and not all(map(dict.__contains__, results, repeat('segmentation'))):
        _first(results, 'results', 'segmentation', ['segmentation' not in r for r in results])
    if not has_boxes and any(map(dict.__contains__, results, repeat('bbox'))):
        idx = next(i for i, r in enumerate(results) if 'bbox' in r)
        raise ValueError(f"results[{idx}] has a 'bbox' field but results[0] has none; give "
                         'boxes to all segmentation results or to none')
    columns = dict(bbox=None, segmentation=None)
    for key, types, dtype, allowed in (
            ('image_id', _INT_TYPES, np.int64, 'an integer image id'),
            ('category_id', _INT_TYPES, np.int64, 'an integer category id'),
            ('score', _NUMBER_TYPES, np.float64, 'a number')):
        values = _values(results, 'results', key, types, allowed)
        columns[key] = np.fromiter(values, dtype, count=len(values))
    if has_boxes:
        columns['bbox'] = _box_array(results, 'results')
    if masks:
        columns['segmentation'] = list(map(itemgetter('segmentation'), results))
    return _check_column_values(columns, gt, lambda k: f'results[{k}]')


def check_columns(dets: dict, gt, iou_type: str) -> dict:
    """:func:`check_results` for detections given as columns (a model's predictions, gathered
    without a dict per detection): ``image_id`` and ``category_id`` (integer arrays),
    ``score`` (N), ``bbox`` ((N, 4) ``[x, y, w, h]``, or None for masks without boxes) and
    ``segmentation`` (a list of RLE dicts, or None for boxes). Returns them as
    :func:`check_results` does; an error names ``detections[i]`` and the field."""
    masks = check_iou_type(iou_type)
    required = ('image_id', 'category_id', 'score', 'segmentation' if masks else 'bbox')
    missing = [key for key in required if dets.get(key) is None]
    if missing:
        raise ValueError(f"detection columns lack {', '.join(map(repr, missing))}")
    columns = dict(score=np.asarray(dets['score'], dtype=np.float64).reshape(-1), bbox=None,
                   segmentation=None)
    num = len(columns['score'])
    for key in ('image_id', 'category_id'):
        values = np.asarray(dets[key])
        if values.shape != (num, ) or (num and values.dtype.kind not in 'iu'):
            raise ValueError(f"detection column '{key}' must hold {num} integers (one per "
                             f'score), got shape {values.shape} of {values.dtype}')
        columns[key] = values.astype(np.int64)
    if dets.get('bbox') is not None:
        columns['bbox'] = np.asarray(dets['bbox'], dtype=np.float64)
        if columns['bbox'].shape != (num, 4):
            raise ValueError(f"detection column 'bbox' must be ({num}, 4) [x, y, width, "
                             f"height], got shape {columns['bbox'].shape}")
    if masks:
        columns['segmentation'] = list(dets['segmentation'])
        if len(columns['segmentation']) != num or not set(
                map(type, columns['segmentation'])) <= {dict}:
            raise ValueError(f"detection column 'segmentation' must hold {num} RLE dicts (one "
                             'per score)')
    return _check_column_values(columns, gt, lambda k: f'detections[{k}]')


def check_iou_type(iou_type: str, allowed=IOU_TYPES, what: str = 'iou_type') -> bool:
    """Refuse an IoU type not in ``allowed``, naming it ``what``; whether it evaluates masks."""
    if iou_type not in allowed:
        raise ValueError(f"{what} is {iou_type!r}; allowed: {', '.join(allowed)}")
    return iou_type != 'bbox'


def _check_column_values(columns: dict, gt, entry: Callable[[int], str]) -> dict:
    """The checks of detections' values, made once they are columns of the right types: ids
    the annotations know, finite scores, boxes and masks that fit their image. ``entry(k)``
    names detection ``k``; returns ``columns``."""
    for key, known, allowed in (('image_id', gt.imgs, 'an image id'),
                                ('category_id', gt.cats, 'a category id')):
        _check_known(columns[key], known, key, allowed, entry)
    bad = np.flatnonzero(~np.isfinite(columns['score']))
    if bad.size:
        raise ValueError(f"{entry(bad[0])}: field 'score' is {columns['score'][bad[0]]}; "
                         f'allowed: a finite number ({bad.size} entries affected)')
    if columns['bbox'] is not None:
        _check_box_values(columns['bbox'], entry)
    segms = columns['segmentation']
    if segms is not None:
        sizes = {img_id: [img['height'], img['width']] for img_id, img in gt.imgs.items()}
        _check_segmentations(segms, columns['image_id'].tolist(), sizes, entry, min_polygon=6)
        idx = _first_wrong_type(segms, dict) if columns['bbox'] is None else None
        if idx is not None:
            raise ValueError(f"{entry(idx)}: polygon 'segmentation' needs a 'bbox' field "
                             'too (the LVIS API takes the area of such results from the box)')
    return columns


def _entry(items, what: str, idx: int) -> str:
    item = items[idx]
    if isinstance(item, dict) and 'id' in item:
        return f'{what}[{idx}] (id={item["id"]!r})'
    return f'{what}[{idx}]'


def _is_type(value, types) -> bool:
    return isinstance(value, types) and not isinstance(value, (bool, np.bool_))


def _types_ok(values, types) -> bool:
    """Whether every value is an instance of ``types`` but no boolean; C-speed for lists."""
    return all(issubclass(t, types) and not issubclass(t, (bool, np.bool_))
               for t in set(map(type, values)))


def _first_wrong_type(values: Sequence, types) -> Optional[int]:
    """The index of the first value that :func:`_types_ok` refuses, or None."""
    if _types_ok(values, types):
        return None
    return next(i for i, value in enumerate(values) if not _is_type(value, types))


def _first(items, what, key, bad_flags, allowed: str = '') -> None:
    """Raise for the first entry flagged in ``bad_flags``; does nothing if none is."""
    bad = np.flatnonzero(np.asarray(bad_flags, dtype=bool))
    if bad.size == 0:
        return
    idx = int(bad[0])
    value = items[idx].get(key, _MISSING)
    if value is _MISSING:
        raise ValueError(f"{_entry(items, what, idx)} has no '{key}' field"
                         f'{f" ({bad.size} entries lack it)" if bad.size > 1 else ""}')
    raise ValueError(f"{_entry(items, what, idx)}: field '{key}' is {value!r}; allowed: {allowed}"
                     f'{f" ({bad.size} entries affected)" if bad.size > 1 else ""}')


def _check_dicts(items, what: str, allowed: str = 'a JSON object (dict)') -> None:
    idx = _first_wrong_type(items, dict)
    if idx is not None:
        raise ValueError(f'{what}[{idx}] must be {allowed}, got {type(items[idx]).__name__}')


def _values(items, what: str, key: str, types, allowed: str) -> list:
    """``items[i][key]`` for every i, each an instance of ``types`` (never a boolean)."""
    values = list(map(dict.get, items, repeat(key), repeat(_MISSING)))
    if not _types_ok(values, types):
        _first(items, what, key, [not _is_type(v, types) for v in values], allowed)
    return values


def _unique_ids(items, what: str) -> list:
    ids = _values(items, what, 'id', _INT_TYPES, 'an integer')
    if len(set(ids)) != len(ids):
        first = {}  # each id's first entry
        idx = next(i for i, item_id in enumerate(ids) if first.setdefault(item_id, i) != i)
        raise ValueError(f"{what}[{idx}]: field 'id' is {ids[idx]}, the id of "
                         f'{what}[{first[ids[idx]]}] too; ids must be unique')
    return ids


def _check_known(ids, known, key: str, allowed: str, entry: Callable[[int], str],
                 owner=None) -> None:
    """Every id is one of ``known`` (the annotations' image or category ids), else an error
    naming ``entry(k)``: the entry of the first unknown id, or ``owner[i]``'s where an entry
    lists several ids."""
    ids = np.asarray(ids)
    bad = np.flatnonzero(~np.isin(ids, np.fromiter(known, np.int64, count=len(known))))
    if bad.size:
        idx, has = (bad[0], 'is') if owner is None else (owner[bad[0]], 'lists')
        raise ValueError(f"{entry(int(idx))}: field '{key}' {has} {ids[bad[0]]}, which is not "
                         f'{allowed} of the annotations ({len(known)} known)')


def _box_array(items, what: str) -> np.ndarray:
    """Each item's 'bbox', 4 numbers (never strings or booleans), as an (N, 4) array; their
    values are checked by :func:`_check_box_values`."""
    allowed = '[x, y, width, height], 4 numbers'
    boxes = _values(items, what, 'bbox', (list, tuple), allowed)
    if not _types_ok(chain.from_iterable(boxes), _NUMBER_TYPES):
        _first(items, what, 'bbox', [not _types_ok(b, _NUMBER_TYPES) for b in boxes], allowed)
    lengths = np.fromiter(map(len, boxes), np.int64, count=len(boxes))
    _first(items, what, 'bbox', lengths != 4, allowed)
    # Flat, as nested lists convert about twice as slowly.
    return np.fromiter(chain.from_iterable(boxes), np.float64, count=4 * len(boxes)).reshape(-1, 4)


def _check_box_values(arr: np.ndarray, entry: Callable[[int], str]) -> None:
    for bad, reason in ((~np.isfinite(arr).all(axis=1), 'allowed: finite numbers'),
                        ((arr[:, 2:] < 0).any(axis=1), 'width and height must be >= 0')):
        bad = np.flatnonzero(bad)
        if bad.size:
            raise ValueError(f"{entry(int(bad[0]))}: field 'bbox' is {arr[bad[0]].tolist()}; "
                             f'{reason} ({bad.size} entries affected)')


def _check_segmentations(segms: list, img_ids: list, sizes: dict, entry: Callable[[int], str],
                         min_polygon: int) -> None:
    """Each mask an RLE of its image's size whose counts add up to it, or polygons of finite
    numbers near the image. ``entry(k)`` names ``segms[k]``; ``sizes`` maps image id to
    (height, width)."""
    if set(map(type, segms)) == {dict}:  # the usual case, at C speed
        _check_rles(segms, list(map(sizes.__getitem__, img_ids)), img_ids, entry)
        return
    idx = _first_wrong_type(segms, (dict, list))
    if idx is not None:
        raise ValueError(f'{entry(idx)}: {_NOT_A_MASK}')
    rles = [i for i, s in enumerate(segms) if isinstance(s, dict)]
    polys = [i for i, s in enumerate(segms) if isinstance(s, list)]
    if rles:
        _check_rles([segms[i] for i in rles], [sizes[img_ids[i]] for i in rles],
                    [img_ids[i] for i in rles], lambda k: entry(rles[k]))
    if polys:
        _check_polygons([segms[i] for i in polys], [sizes[img_ids[i]] for i in polys],
                        [img_ids[i] for i in polys], lambda k: entry(polys[k]), min_polygon)


def _check_rles(rles: list, hws: list, img_ids: list, entry) -> None:
    sizes = list(map(dict.get, rles, repeat('size'), repeat(_MISSING)))
    counts = list(map(dict.get, rles, repeat('counts'), repeat(_MISSING)))
    if any(map(is_, chain(sizes, counts), repeat(_MISSING))):
        idx = next(k for k, (s, c) in enumerate(zip(sizes, counts))
                   if s is _MISSING or c is _MISSING)
        raise ValueError(f"{entry(idx)}: field 'segmentation' is an RLE without 'counts' and "
                         "'size'; allowed: {'size': [height, width], 'counts': ...}")
    # [443.0, 638] == [443, 638] in Python: types are checked apart from values.
    if not (all(map(eq, sizes, hws)) and _types_ok(chain.from_iterable(sizes), _INT_TYPES)):
        for idx, (size, hw) in enumerate(zip(sizes, hws)):
            if not (isinstance(size, (list, tuple)) and len(size) == 2
                    and all(_is_type(v, _INT_TYPES) for v in size) and list(size) == list(hw)):
                shown = list(size) if isinstance(size, (list, tuple)) else repr(size)
                raise ValueError(
                    f"{entry(idx)}: field 'segmentation' has size {shown}, but image "
                    f'{img_ids[idx]} is [{hw[0]}, {hw[1]}] ([height, width])')

    count_types = set(map(type, counts))
    if not count_types <= {str, bytes, list}:
        idx = next(k for k, c in enumerate(counts) if not isinstance(c, (str, bytes, list)))
        raise ValueError(f"{entry(idx)}: field 'segmentation' has counts of type "
                         f'{type(counts[idx]).__name__}; allowed: a compressed RLE string or '
                         'a list of run lengths')
    lists = [k for k, c in enumerate(counts) if isinstance(c, list)] if list in count_types else []
    strings = np.setdiff1d(np.arange(len(counts)), lists) if lists else np.arange(len(counts))
    sums = np.zeros(len(counts), np.int64)
    if strings.size:
        texts = counts if not lists else [counts[k] for k in strings.tolist()]
        if bytes in count_types:
            texts = [t.decode('latin-1') if isinstance(t, bytes) else t for t in texts]
        sums[strings], bad, reason = _compressed_sums(texts)
        if bad is not None:
            raise ValueError(f"{entry(int(strings[bad]))}: field 'segmentation' has counts "
                             f'{_short(texts[bad])} that are not a compressed RLE: {reason}')
    if lists:
        runs = [counts[k] for k in lists]
        if not (_types_ok(chain.from_iterable(runs), _INT_TYPES)
                and min(chain.from_iterable(runs), default=0) >= 0):
            idx, value = next((k, v) for k, r in enumerate(runs) for v in r
                              if not _is_type(v, _INT_TYPES) or v < 0)
            raise ValueError(f"{entry(lists[idx])}: field 'segmentation' has a run length "
                             f'{value!r} in its counts; allowed: integers >= 0')
        # Python ints cannot overflow; garbage is clipped before it reaches int64.
        sums[lists] = [min(sum(r), _MAX_PIXELS) for r in runs]
    bad = np.flatnonzero(sums != np.fromiter(starmap(mul, hws), np.int64, count=len(hws)))
    if bad.size:
        (h, w), idx = hws[bad[0]], int(bad[0])
        raise ValueError(f"{entry(idx)}: field 'segmentation' has RLE counts that add up to "
                         f'{sums[idx]} pixels, not height x width = {h} x {w} = {h * w}')


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + '...')


def _compressed_sums(texts: List[str]):
    """Decode COCO's compressed RLE counts, all strings at once, as the C decoder reads them.

    Each character carries 5 bits of a run (little end first), bit 0x20 says another
    character follows and, in a run's last character, bit 0x10 is the sign; from the fourth
    run on, the value is the difference to the run two before. Returns the pixel total of
    every string, and the index of the first string that cannot be decoded with the reason
    (or None, None).
    """
    lengths = np.fromiter(map(len, texts), np.int64, count=len(texts))
    sums = np.zeros(len(texts), np.int64)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    start = 0
    while start < len(texts):
        stop = max(start + 1, int(np.searchsorted(bounds, bounds[start] + _RLE_CHARS_PER_BATCH,
                                                  'right')) - 1)
        bad, reason = _decode_batch(texts[start:stop], lengths[start:stop], sums[start:stop])
        if bad is not None:
            return sums, start + bad, reason
        start = stop
    return sums, None, None


def _decode_batch(texts, lengths, sums):
    """:func:`_compressed_sums` for one batch; fills ``sums`` in place.

    Character-level work stays in uint8; a run-level pass costs as much as a character-level
    one (most runs are one character), so there are few of them.
    """
    text = ''.join(texts)
    if not text.isascii():
        bad = next(k for k, t in enumerate(texts) if not t.isascii())
        return bad, _BAD_CHARACTERS
    chars = np.frombuffer(text.encode('ascii'), np.uint8) - np.uint8(48)  # wraps below '0'
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if chars.max(initial=0) > 63:
        return int(np.searchsorted(offsets, np.argmax(chars > 63), 'right') - 1), _BAD_CHARACTERS
    end_pos = np.flatnonzero(chars < 32)  # bit 0x20 clear: the last character of a run
    ends_before = np.searchsorted(end_pos, offsets)  # each string's first run
    nonempty = np.flatnonzero(lengths)
    truncated = nonempty[chars[offsets[1:][nonempty] - 1] > 31]
    if truncated.size:
        return int(truncated[0]), 'it ends in the middle of a run'
    run_len = np.diff(end_pos, prepend=-1)
    if run_len.max(initial=0) > _RLE_MAX_CHARS_PER_RUN:
        bad_run = np.argmax(run_len > _RLE_MAX_CHARS_PER_RUN)
        return int(np.searchsorted(ends_before, bad_run, 'right') - 1), \
            'a run is longer than any mask'
    # A run's last character gives its top 5 bits and its sign (a table look-up); the
    # characters before it, in runs of several, the lower bits.
    values = _LAST_CHARACTER_VALUE[chars[end_pos]]
    multi = np.flatnonzero(run_len > 1)
    multi_len = run_len[multi]
    values[multi] <<= 5 * (multi_len - 1)
    starts = end_pos[multi] - multi_len + 1
    for k in range(int(multi_len.max(initial=1)) - 1):
        more = np.flatnonzero(multi_len > k + 1)
        values[multi[more]] += (chars[starts[more] + k] & 0x1f).astype(np.int64) << (5 * k)
    # After a string's first count, the counts are cumulative sums along two chains, the
    # runs of either parity in the batch (each string a stretch of each; its first run, set
    # to 0, heads one). Wrap-around in int64 cancels out in the differences; counts are
    # clipped before summing (any that large fails the check anyway).
    has_runs = np.flatnonzero(np.diff(ends_before))
    first = values[ends_before[has_runs]]
    bad = [has_runs[np.argmax(first < 0)]] if (first < 0).any() else []
    sums[has_runs] = np.minimum(first, _MAX_PIXELS)
    values[ends_before[has_runs]] = 0
    for parity in (0, 1):
        bounds = (ends_before - parity + 1) // 2  # each string's stretch of the chain
        total = np.zeros(len(values[parity::2]) + 1, np.int64)
        np.cumsum(values[parity::2], out=total[1:])
        counts = total[1:] - np.repeat(total[bounds[:-1]], np.diff(bounds))
        if counts.min(initial=0) < 0:
            bad.append(np.searchsorted(bounds, np.argmax(counts < 0), 'right') - 1)
        np.cumsum(np.minimum(counts, _MAX_PIXELS, out=counts), out=total[1:])
        sums += total[bounds[1:]] - total[bounds[:-1]]
    if bad:
        return int(min(bad)), 'it decodes to a negative run length'
    return None, None


def _check_polygons(segms: list, hws: list, img_ids: list, entry, min_polygon: int) -> None:
    def refuse(idx):
        raise ValueError(f'{entry(idx)}: {_NOT_A_MASK}')

    per_segm = np.fromiter(map(len, segms), np.int64, count=len(segms))
    if (per_segm == 0).any():
        refuse(int(np.flatnonzero(per_segm == 0)[0]))
    polygons = list(chain.from_iterable(segms))
    poly_owner = np.repeat(np.arange(len(segms)), per_segm)
    not_list = _first_wrong_type(polygons, list)
    if not_list is not None:
        refuse(int(poly_owner[not_list]))
    poly_len = np.fromiter(map(len, polygons), np.int64, count=len(polygons))
    bad = np.flatnonzero((poly_len < min_polygon) | (poly_len % 2 == 1))
    if bad.size:
        refuse(int(poly_owner[bad[0]]))
    coord_owner = np.repeat(poly_owner, poly_len)
    if not _types_ok(chain.from_iterable(polygons), _NUMBER_TYPES):
        k, value = next((k, v) for k, v in enumerate(chain.from_iterable(polygons))
                        if not _is_type(v, _NUMBER_TYPES))
        raise ValueError(f"{entry(int(coord_owner[k]))}: field 'segmentation' has a polygon "
                         f'coordinate {value!r}; allowed: numbers')
    coords = np.fromiter(chain.from_iterable(polygons), np.float64, count=int(poly_len.sum()))
    bad = np.flatnonzero(~np.isfinite(coords))
    if bad.size:
        raise ValueError(f"{entry(int(coord_owner[bad[0]]))}: field 'segmentation' has a "
                         f'polygon coordinate {coords[bad[0]]}; allowed: finite numbers')
    # Every polygon has an even length, so even positions are x and odd ones y.
    owner = coord_owner[0::2]
    hw = np.asarray(hws, dtype=np.float64).reshape(-1, 2)[owner]
    xy = np.stack([coords[0::2], coords[1::2]], axis=1)
    limit = _POLYGON_MARGIN * hw[:, ::-1]
    bad = np.flatnonzero(((xy < -limit) | (xy > hw[:, ::-1] + limit)).any(axis=1))
    if bad.size:
        idx = int(owner[bad[0]])
        h, w = hws[idx]
        raise ValueError(
            f"{entry(idx)}: field 'segmentation' has a polygon point {xy[bad[0]].tolist()} far "
            f'outside image {img_ids[idx]} ([height, width] = [{h}, {w}]); allowed: points '
            'within one image size of the image')
