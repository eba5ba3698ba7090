// The testkit's accessibility check (Browser::accessibility_violations): a
// function body run by WebDriver's Execute Script, returning a list of
// {rule, target, detail}. Our own small check, not axe-core; it covers:
//   lang, title    the document has a lang and a non-empty title
//   label          each visible input/select/textarea has an accessible name:
//                  aria-labelledby (to text), aria-label, <label for>, a
//                  wrapping <label>, or title (a placeholder is not a label)
//   button-name    each visible button has a name: its text, aria-label(ledby),
//                  title, an image's alt, an input's value
//   link-name      the same for each visible a[href]
//   image-alt      each visible <img> has an alt attribute (alt="" marks a
//                  decorative image)
//   contrast       visible text against its background: 4.5:1, or 3:1 for
//                  large text (24px, or 18.66px bold); the background is the
//                  colours of the ancestors blended over white; text over a
//                  background image or gradient is not judged; disabled
//                  controls are exempt (as WCAG 1.4.3 says)
//   tabindex       no tabindex above 0
// Hidden elements (display, visibility, content-visibility, aria-hidden) are
// not judged.
const violations = [];
const report = (rule, el, detail) => violations.push({ rule, target: describe(el), detail });

function describe(el) {
    if (!el || !el.tagName) return 'document';
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    for (const c of [...el.classList].slice(0, 3)) s += '.' + c;
    for (const a of ['name', 'type', 'href']) {
        if (el.hasAttribute(a)) s += `[${a}=${JSON.stringify(el.getAttribute(a).slice(0, 40))}]`;
    }
    return s;
}

function visible(el) {
    if (el.closest('[aria-hidden="true"], [hidden]')) return false;
    return el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true });
}

const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();

function labelledBy(el) {
    const ids = clean(el.getAttribute('aria-labelledby')).split(' ').filter(Boolean);
    return clean(ids.map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent).join(' '));
}

// The text an element's content gives it as a name: its text and the alt of
// the images in it.
function contentName(el) {
    const alts = [...el.querySelectorAll('img[alt], [role="img"][aria-label]')]
        .map((i) => i.getAttribute('alt') || i.getAttribute('aria-label'));
    return clean(el.innerText + ' ' + alts.join(' '));
}

function ariaName(el) {
    return labelledBy(el) || clean(el.getAttribute('aria-label'));
}

// lang and title
if (!clean(document.documentElement.getAttribute('lang'))) {
    report('lang', document.documentElement, 'the document has no lang attribute');
}
if (!clean(document.title)) report('title', document.documentElement, 'the document has no title');

// Buttons, form controls, links, images.
const buttonTypes = new Set(['button', 'submit', 'reset', 'image']);
for (const el of document.querySelectorAll('input, select, textarea, button, [role="button"], a[href], img')) {
    if (!visible(el)) continue;
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (tag === 'input' && type === 'hidden') continue;
    if (tag === 'img') {
        if (!el.hasAttribute('alt')) report('image-alt', el, 'has no alt attribute');
    } else if (tag === 'button' || el.getAttribute('role') === 'button' || (tag === 'input' && buttonTypes.has(type))) {
        let name = ariaName(el) || clean(el.getAttribute('title'));
        if (tag === 'input') {
            // submit and reset have a default label; image needs alt.
            name = name || (type === 'image' ? clean(el.getAttribute('alt')) : clean(el.value) || (type !== 'button' ? type : ''));
        } else {
            name = name || contentName(el);
        }
        if (!name) report('button-name', el, 'has no accessible name');
    } else if (tag === 'a') {
        if (!(ariaName(el) || contentName(el) || clean(el.getAttribute('title')))) {
            report('link-name', el, 'has no accessible name');
        }
    } else {
        let name = ariaName(el);
        if (!name && el.id) {
            name = clean([...document.querySelectorAll('label')].filter((l) => l.htmlFor === el.id)
                .map((l) => l.textContent).join(' '));
        }
        const wrapping = el.closest('label');
        if (!name && wrapping) {
            // The label's text without the control's own (a select's options).
            const copy = wrapping.cloneNode(true);
            copy.querySelectorAll('input, select, textarea').forEach((c) => c.remove());
            name = clean(copy.textContent);
        }
        name = name || clean(el.getAttribute('title'));
        if (!name) report('label', el, 'has no accessible name (a <label>, aria-label or aria-labelledby)');
    }
}

// Positive tabindex.
for (const el of document.querySelectorAll('[tabindex]')) {
    if (parseInt(el.getAttribute('tabindex'), 10) > 0) {
        report('tabindex', el, `has tabindex=${el.getAttribute('tabindex')} (only 0 and -1 keep the reading order)`);
    }
}

// Contrast.
const canvas = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
function parseColor(value) {
    const m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(value);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    if (value === 'transparent') return [0, 0, 0, 0];
    // Other syntaxes (color(srgb …), oklch(…)): let a canvas convert them.
    canvas.clearRect(0, 0, 1, 1);
    canvas.fillStyle = '#000';
    canvas.fillStyle = value;
    canvas.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = canvas.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
}
// `top` over `bottom` (opaque).
const blend = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
// The opaque background behind el, or null when an image or gradient is in it.
function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.backgroundImage !== 'none') return null;
        const color = parseColor(style.backgroundColor);
        if (color[3] > 0) layers.push(color);
        if (color[3] >= 1) break;
    }
    return layers.reverse().reduce((under, layer) => blend(layer, under), [255, 255, 255, 1]);
}
function luminance([r, g, b]) {
    const lin = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
for (const el of document.body ? document.body.querySelectorAll('*') : []) {
    const text = clean([...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.data).join(''));
    if (!text || !visible(el)) continue;
    if (el.closest(':disabled, [aria-disabled="true"]')) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    if (!bg) continue;
    const fg = blend(parseColor(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
        report('contrast', el, `${JSON.stringify(text.slice(0, 40))}: ${ratio.toFixed(2)}:1 (${hex(fg)} on ${hex(bg)}, ` +
            `${size}px), needs ${needed}:1`);
    }
}
return violations;
