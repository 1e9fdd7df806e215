// The catalogue's message syntax, filled in for one locale. Two forms:
//   {name}                                         a parameter
//   {count, plural, one {# day} other {# days}}    a plural: the branch is chosen by
//                                                  Intl.PluralRules(locale).select(count), `=N` matches
//                                                  N exactly, `other` is required; `#` is the count
// A `{` that opens neither form, or names a parameter that was not given, is left as written.
// The playground page fills its own strings in the browser with PLURAL_CLIENT_JS, the same rules in ES5.

/** Where `{` at `open` is closed, counting nested braces; -1 when it never is. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

const PLURAL_HEAD = /^\s*(\w+)\s*,\s*plural\s*,/;
const BRANCH_KEY = /^\s*(=\d+|zero|one|two|few|many|other)\s*(?=\{)/;

/** The branches of a plural's body (`one {# day} other {# days}`), or null when it is not well formed. */
export function pluralBranches(body: string): Map<string, string> | null {
  const branches = new Map<string, string>();
  let rest = body;
  while (rest.trim() !== '') {
    const key = BRANCH_KEY.exec(rest);
    if (!key) return null;
    const open = key[0].length;
    const close = closing(rest, open);
    if (close < 0) return null;
    branches.set(key[1]!, rest.slice(open + 1, close));
    rest = rest.slice(close + 1);
  }
  return branches.has('other') ? branches : null;
}

const pluralRules = new Map<string, Intl.PluralRules>();
/** The CLDR plural category of `n` in `locale`: en 1 → one, 0/2/5 → other; zh-CN always other. */
export function pluralCategory(locale: string, n: number): Intl.LDMLPluralRule {
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return rules.select(n);
}

/** Fills `template` for `locale`; `value(name, raw)` turns a given parameter into text. */
export function fillTemplate(
  template: string,
  locale: string,
  params: Record<string, string | number>,
  value: (name: string, raw: string | number) => string = (_n, raw) => String(raw),
): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) return out + template.slice(i);
    out += template.slice(i, open);
    const close = closing(template, open);
    if (close < 0) return out + template.slice(open);
    const whole = template.slice(open, close + 1);
    const inner = template.slice(open + 1, close);
    const head = PLURAL_HEAD.exec(inner);
    if (head) {
      const raw = params[head[1]!];
      const branches = pluralBranches(inner.slice(head[0].length));
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (raw === undefined || branches === null || !Number.isFinite(n)) out += whole;
      else {
        const branch = branches.get(`=${n}`) ?? branches.get(pluralCategory(locale, n)) ?? branches.get('other')!;
        out += fillTemplate(
          branch.replace(/#/g, () => value(head[1]!, raw)),
          locale,
          params,
          value,
        );
      }
    } else if (/^\w+$/.test(inner) && params[inner] !== undefined) out += value(inner, params[inner]!);
    else out += whole;
    i = close + 1;
  }
  return out;
}

/**
 * The same rules for the playground page's inline script (no modules there): defines
 * `fillTemplate(template, locale, params)`. Tested against the same cases as the function above.
 */
export const PLURAL_CLIENT_JS = String.raw`function fillTemplate(s,locale,params){
function closing(t,o){var d=0;for(var i=o;i<t.length;i++){if(t[i]==='{')d++;else if(t[i]==='}'&&--d===0)return i;}return -1;}
function branches(b){var m=new Map(),r=b;while(r.trim()!==''){var k=/^\s*(=\d+|zero|one|two|few|many|other)\s*(?=\{)/.exec(r);if(!k)return null;var c=closing(r,k[0].length);if(c<0)return null;m.set(k[1],r.slice(k[0].length+1,c));r=r.slice(c+1);}return m.has('other')?m:null;}
var out='',i=0;params=params||{};
while(i<s.length){var o=s.indexOf('{',i);if(o<0)return out+s.slice(i);out+=s.slice(i,o);var c=closing(s,o);if(c<0)return out+s.slice(o);
var whole=s.slice(o,c+1),inner=s.slice(o+1,c),h=/^\s*(\w+)\s*,\s*plural\s*,/.exec(inner);
if(h){var raw=params[h[1]],br=branches(inner.slice(h[0].length)),n=Number(raw);
if(raw===undefined||br===null||!isFinite(n))out+=whole;
else{var b=br.get('='+n);if(b===undefined)b=br.get(new Intl.PluralRules(locale).select(n));if(b===undefined)b=br.get('other');out+=fillTemplate(b.replace(/#/g,function(){return String(raw);}),locale,params);}}
else if(/^\w+$/.test(inner)&&params[inner]!==undefined)out+=String(params[inner]);else out+=whole;i=c+1;}
return out;}`;
