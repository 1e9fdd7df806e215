// The playground's single page: inline CSS and JS, no external assets, no build step. Every word on it
// comes from the message catalogues (`playground.*` keys), rendered on the server in the page's locale
// and handed to the script as one JSON object. The script only ever sets textContent, never HTML.
import { DATE_TIME_FORMATS, SHORT_DATE_TIME_FORMATS } from '../../src/conversation/format.ts';
import { PLURAL_CLIENT_JS } from '../../src/conversation/template.ts';
import { FAVICON_DATA_URL } from '../../src/http/favicon.ts';

export interface PageOptions {
  locale: string;
  /** The other catalogue's locale, for the language switch link. */
  otherLocale: string;
  /** `playground.*` key → text in `locale` (placeholders like `{count}` are filled in by the script). */
  strings: Record<string, string>;
  timeZone: string;
  timeTravel: boolean;
  devPayments: boolean;
  /** The server's limit on a person's name (the name field's maxlength and the script's check). */
  maxName: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON safe inside a <script> element. */
const json = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;--bg:#f3f5f8;--fg:#1d2433;--muted:#667085;--primary:#2f6fed;--primary-soft:#eef2ff;--line:#e4e8ef;--ok:#136c3a;--okbg:#e6f7ee;--shift:#f59e0b}
*{box-sizing:border-box}
html,body{height:100%}
body{margin:0;background:var(--bg);color:var(--fg);display:flex;flex-direction:column;height:100vh;height:100dvh;overflow:hidden;font-size:15px}
button,input{font:inherit}
input{padding:9px 11px;border:1px solid var(--line);border-radius:10px;background:#fff;color:var(--fg);min-width:0;outline:none}
input:focus{border-color:var(--primary);box-shadow:0 0 0 3px rgba(47,111,237,.15)}
button{border:0;border-radius:10px;background:var(--primary);color:#fff;padding:9px 14px;cursor:pointer;font-weight:600;white-space:nowrap}
button:disabled{opacity:.5;cursor:default}
button.soft{background:var(--primary-soft);color:var(--primary)}
.top{display:flex;align-items:center;gap:10px;padding:10px 14px;background:#1d2433;color:#fff;flex:none}
.brand{display:flex;align-items:center;gap:8px;font-weight:700;flex:1;min-width:0}
.brand-text{display:flex;flex-direction:column;min-width:0;line-height:1.15}
.brand-text b,.brand-text small{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.brand-text small{font-weight:500;font-size:.72rem;color:#aeb8cf}
.logo{flex:none;width:28px;height:28px;border-radius:8px;background:var(--primary);display:grid;place-items:center;font-weight:800;font-size:.9rem}
.clock{flex:none;font-size:.75rem;padding:4px 9px;border-radius:999px;background:rgba(255,255,255,.14);white-space:nowrap;font-variant-numeric:tabular-nums}
.clock .short{display:none}
@media (max-width:479px){.clock .long{display:none}.clock .short{display:inline}}
.clock.shifted{background:var(--shift);color:#1d2433;font-weight:700}
.lang{flex:none;color:#cdd6ea;font-size:.8rem;text-decoration:none}
.people{display:flex;gap:8px;align-items:center;padding:8px 12px;background:#fff;border-bottom:1px solid var(--line);overflow-x:auto;flex:none;scrollbar-width:thin}
.people-list{display:flex;gap:6px}
.chip{display:flex;align-items:center;gap:6px;border:1px solid var(--line);background:#fff;color:var(--fg);border-radius:999px;padding:4px 12px 4px 4px;font-weight:500;font-size:.875rem}
.chip{max-width:150px;min-width:0;flex:none}
.chip .name,.members .name{min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.members .name{flex:1}
.chip[aria-selected="true"]{background:var(--primary);border-color:var(--primary);color:#fff}
.avatar{flex:none;width:24px;height:24px;border-radius:50%;display:grid;place-items:center;font-size:.72rem;font-weight:700;color:#fff;text-transform:uppercase}
.new-person{display:flex;gap:6px;flex:none}
.people .new-person input{width:112px;padding:6px 10px}
.people .new-person button{padding:6px 12px}
.tabs{display:flex;background:#fff;border-bottom:1px solid var(--line);flex:none}
.tabs button{flex:1;background:none;color:var(--muted);border-radius:0;padding:10px 4px;border-bottom:2px solid transparent;font-weight:500}
.tabs button[aria-selected="true"]{color:var(--primary);border-bottom-color:var(--primary);font-weight:700}
.layout{flex:1;min-height:0;display:flex;width:100%}
.side{display:contents}
.view{flex:1;min-height:0;min-width:0;display:none}
body[data-view="chat"] #view-chat,body[data-view="groups"] #view-groups,body[data-view="tools"] #view-tools{display:flex}
#view-chat{flex-direction:column;background:#f7f8fb}
#view-groups,#view-tools{flex-direction:column;gap:12px;padding:12px;overflow-y:auto}
.strip{display:flex;gap:6px;align-items:center;padding:8px 12px;background:#fff;border-bottom:1px solid var(--line);font-size:.8rem;flex:none;min-width:0}
.strip .badge{display:block;min-width:0;flex:0 1 auto;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.strip .as{margin-left:auto;padding-left:6px;color:var(--muted);flex:0 1 auto;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:45%}
#strip{display:contents}
.badge{display:inline-flex;align-items:center;gap:4px;padding:3px 9px;border-radius:999px;background:#f1f3f7;color:var(--muted);font-size:.78rem;font-weight:600}
.badge.in{background:var(--okbg);color:var(--ok)}
.messages{flex:1;min-height:0;overflow-y:auto;padding:14px 12px;display:flex;flex-direction:column;gap:8px}
.bubble{max-width:86%;padding:9px 12px 6px;border-radius:16px;background:#fff;box-shadow:0 1px 2px rgba(20,30,60,.08);white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.45}
.bubble.bot{align-self:flex-start;border-bottom-left-radius:4px}
.bubble.person{align-self:flex-end;background:var(--primary);color:#fff;border-bottom-right-radius:4px}
.bubble .time{display:block;font-size:.68rem;color:var(--muted);margin-top:3px;text-align:right}
.bubble.person .time{color:rgba(255,255,255,.78)}
.choices{display:flex;flex-direction:column;gap:6px;margin:8px 0 2px;white-space:normal}
.choices button{background:var(--primary-soft);color:var(--primary);text-align:left;white-space:normal}
.choices button:hover{background:#dfe7ff}
.qr-link{display:block;width:fit-content}
.qr{display:block;width:200px;max-width:100%;height:auto;border-radius:10px;border:1px solid var(--line);margin:2px 0 6px;image-rendering:pixelated;background:#fff}
.hint{font-size:.76rem;color:var(--muted);white-space:normal}
.link-btn{display:inline-block;margin-top:8px;padding:8px 12px;border-radius:10px;background:var(--primary-soft);color:var(--primary);font-weight:600;text-decoration:none}
.notice{align-self:center;max-width:92%;text-align:center;font-size:.78rem;color:var(--muted);background:#e9edf3;border-radius:999px;padding:4px 12px}
.notice.error{background:#fdeeee;color:#8a1f1f}
.composer{display:flex;gap:8px;padding:10px 12px;background:#fff;border-top:1px solid var(--line);flex:none}
.composer input{flex:1}
.welcome{margin:auto;max-width:380px;width:100%;padding:24px 16px;text-align:center}
.welcome h1{font-size:1.3rem;margin:0 0 8px}
.welcome p{color:var(--muted);margin:0 0 18px;line-height:1.5}
.welcome .new-person{justify-content:center}
.welcome .new-person input{flex:1}
body.nobody .composer,body.nobody .strip,body.nobody .people,body.nobody .messages,body:not(.nobody) .welcome{display:none}
.card{background:#fff;border-radius:16px;box-shadow:0 2px 12px rgba(20,30,60,.06);padding:16px}
.card h2{font-size:1rem;margin:0 0 6px}
.card p{margin:0 0 10px;color:var(--muted);font-size:.85rem;line-height:1.45}
.card .card{box-shadow:none;border:1px solid var(--line);border-radius:12px;padding:12px}
.group-head{display:flex;align-items:center;gap:8px;flex-wrap:wrap;margin-bottom:8px}
.group-head h3{font-size:.98rem;margin:0;flex:1;min-width:0}
.members{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:2px}
.members li{display:flex;align-items:center;gap:8px;padding:6px 4px;border-radius:8px}
.members li.me{background:var(--okbg);font-weight:600}
.members .empty{color:var(--muted);font-size:.85rem}
.row{display:flex;gap:8px;flex-wrap:wrap}
.row input{flex:1}
.tt button{flex:1}
#tt-form button{flex:none;min-width:84px}
.now{font-variant-numeric:tabular-nums;font-weight:700;font-size:1.05rem;margin:2px 0}
.shifted-note{color:#8a5a00;font-size:.8rem;font-weight:600;min-height:1em}
.code-box{margin-top:10px;padding:10px;border-radius:10px;background:var(--primary-soft)}
.code-box code{display:block;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;overflow-wrap:anywhere;margin-bottom:8px;user-select:all}
.msg{font-size:.82rem;min-height:1em;margin-top:6px;color:var(--muted)}
.msg.error{color:#8a1f1f}
.bubble .cut{display:block;font-size:.72rem;margin-top:4px;opacity:.85}
#tt-reset{margin-top:8px}
.status-dot{width:8px;height:8px;border-radius:50%;background:#37c777;flex:none}
.status-dot.down{background:#f59e0b}
[hidden]{display:none !important}
@media (min-width:880px){
  .tabs{display:none}
  .top,.people{padding-left:max(16px,calc((100% - 1180px) / 2 + 16px));padding-right:max(16px,calc((100% - 1180px) / 2 + 16px))}
  .layout{max-width:1180px;margin:0 auto;gap:16px;padding:16px}
  .view{display:flex !important}
  #view-chat{flex:1.35;border-radius:16px;overflow:hidden;box-shadow:0 2px 12px rgba(20,30,60,.08)}
  .side{display:flex;flex-direction:column;gap:16px;flex:1;min-width:0;overflow-y:auto}
  #view-groups,#view-tools{flex:none;padding:0;overflow:visible}
}
`;

const SCRIPT = `
(function(){
'use strict';
var T=JSON.parse(document.getElementById('strings').textContent);
var CFG=JSON.parse(document.getElementById('config').textContent);
var LS_PEOPLE='gk.playground.people',LS_CURRENT='gk.playground.current';
function $(id){return document.getElementById(id);}
${PLURAL_CLIENT_JS}
function t(key,params){var s=T['playground.'+key];if(s===undefined)s=key;return fillTemplate(s,CFG.locale,params);}
function h(tag,attrs,children){var e=document.createElement(tag);if(attrs){for(var k in attrs){var v=attrs[k];if(v===null||v===undefined||v===false)continue;if(k==='text')e.textContent=v;else if(k==='class')e.className=v;else if(k.slice(0,2)==='on')e.addEventListener(k.slice(2),v);else e.setAttribute(k,v===true?'':String(v));}}(children||[]).forEach(function(c){if(c!==null&&c!==undefined&&c!==false)e.appendChild(typeof c==='string'?document.createTextNode(c):c);});return e;}
function safeUrl(u){return typeof u==='string'&&/^(https?:\\/\\/|\\/(?!\\/))/i.test(u)?u:null;}
function colorOf(id){var x=0;for(var i=0;i<id.length;i++)x=(x*31+id.charCodeAt(i))|0;return 'hsl('+(Math.abs(x)%360)+' 55% 46%)';}
function initial(name){var c=Array.from(String(name).trim())[0];return c||'?';}
function avatar(id,name){return h('span',{class:'avatar',style:'background:'+colorOf(id),'aria-hidden':'true',text:initial(name)});}
// Times as the server writes them (src/conversation/format.ts): the locale's date order and the zone, "6 Dec 2026, 09:08 (UTC+8)".
function zoneOf(ms){try{var p=new Intl.DateTimeFormat('en-US',{timeZone:CFG.timeZone,timeZoneName:'shortOffset'}).formatToParts(new Date(ms)).find(function(x){return x.type==='timeZoneName';});var g=p?p.value:'GMT';return /^GMT([+-]0+(:00)?)?$/.test(g)?'UTC':g.replace(/^GMT/,'UTC');}catch(e){return CFG.timeZone;}}
function zoned(spec){var f;try{f=new Intl.DateTimeFormat(spec.locale,Object.assign({},spec.options,{timeZone:CFG.timeZone}));}catch(e){f=new Intl.DateTimeFormat(spec.locale,spec.options);}return {format:function(ms){return f.format(new Date(ms))+' ('+zoneOf(ms)+')';}};}
var dateFmt=zoned(CFG.dateFormat),timeFmt=zoned(CFG.shortDateFormat);

// Each person is {userId, name, token}: the public id others see, and the secret session token only this browser holds.
function loadPeople(){try{var p=JSON.parse(localStorage.getItem(LS_PEOPLE)||'[]');return Array.isArray(p)?p.filter(function(x){return x&&typeof x.userId==='string'&&typeof x.name==='string'&&typeof x.token==='string';}):[];}catch(e){return [];}}
function authFor(userId){var p=people.find(function(x){return x.userId===userId;});return p?{authorization:'Bearer '+p.token}:{};}
function tokenFor(userId){var p=people.find(function(x){return x.userId===userId;});return p?p.token:'';}
var people=loadPeople(),current=null;
try{current=localStorage.getItem(LS_CURRENT)||null;}catch(e){}
if(!people.some(function(p){return p.userId===current;}))current=people.length?people[0].userId:null;
function savePeople(){try{localStorage.setItem(LS_PEOPLE,JSON.stringify(people));localStorage.setItem(LS_CURRENT,current||'');}catch(e){}}

var groups=[],seen={},es=null,down=false,busy=false,clock={server:Date.now(),local:Date.now(),offset:0};

async function api(method,path,body,headers){
  var init={method:method,headers:Object.assign({},headers||{}),cache:'no-store'};
  if(body!==undefined){init.headers['content-type']='application/json';init.body=JSON.stringify(body);}
  var r=await fetch(path,init);var j={};try{j=await r.json();}catch(e){}
  if(!r.ok){var err=new Error(j&&j.message?j.message:String(r.status));err.status=r.status;throw err;}
  return j;
}

// ---------------------------------------------------------------- views
function setView(v){document.body.setAttribute('data-view',v);['chat','groups','tools'].forEach(function(n){$('tab-'+n).setAttribute('aria-selected',String(n===v));});if(v==='chat')scrollDown();}
['chat','groups','tools'].forEach(function(n){$('tab-'+n).addEventListener('click',function(){setView(n);});});

// ---------------------------------------------------------------- people
function renderPeople(){
  var list=$('people-list');list.textContent='';
  people.forEach(function(p){
    list.appendChild(h('button',{type:'button',class:'chip','data-testid':'person-tab','data-user-id':p.userId,'aria-selected':String(p.userId===current),title:p.name,onclick:function(){if(p.userId!==current)select(p.userId);}},[avatar(p.userId,p.name),h('span',{class:'name',text:p.name})]));
  });
  var form=$('new-person');
  if(people.length===0){document.body.classList.add('nobody');$('welcome-slot').appendChild(form);$('create-person').textContent=t('create');$('name-input').placeholder=t('name_placeholder');}
  else{document.body.classList.remove('nobody');$('people').appendChild(form);$('create-person').textContent=t('add_person');$('name-input').placeholder=t('add_placeholder');}
  var me=people.find(function(p){return p.userId===current;});
  $('chat-title').textContent=me?t('chatting_as',{name:me.name}):'';
}
$('new-person').addEventListener('submit',async function(ev){
  ev.preventDefault();
  var input=$('name-input'),name=input.value.trim(),msg=$('name-msg');
  msg.textContent='';
  if(!name||Array.from(name).length>CFG.maxName){msg.textContent=t('error_name');input.focus();return;}
  var btn=$('create-person');btn.disabled=true;
  try{var p=await api('POST','/playground/api/people',{name:name,locale:CFG.locale});people.push({userId:p.userId,name:p.name,token:p.token});input.value='';select(p.userId);setView('chat');}
  catch(e){msg.textContent=e.status===400?t('error_name'):e.status===429?t('error_too_many'):t('error_generic');}
  finally{btn.disabled=false;}
});
function select(userId){
  current=userId;savePeople();renderPeople();
  $('messages').textContent='';seen={};
  connect();refresh();
  setTimeout(function(){$('message-input').focus();},0);
}
function forget(userId){
  people=people.filter(function(p){return p.userId!==userId;});
  if(current===userId)current=people.length?people[0].userId:null;
  savePeople();
  if(current)select(current);else{renderPeople();$('messages').textContent='';connect();refresh();}
}

// ---------------------------------------------------------------- chat
function scrollDown(){var m=$('messages');m.scrollTop=m.scrollHeight;}
function nearBottom(){var m=$('messages');return m.scrollHeight-m.scrollTop-m.clientHeight<260;}
function notice(text,isError){var n=h('div',{class:'notice'+(isError?' error':''),'data-testid':'notice',role:'status',text:text});$('messages').appendChild(n);scrollDown();return n;}
function bubbleFor(e){
  var r=e.reply||{},kids=[];
  if(r.type==='choices'){
    kids.push(r.text||'');
    kids.push(h('div',{class:'choices'},(r.choices||[]).map(function(c){return h('button',{type:'button','data-testid':'choice','data-value':c.value,text:c.label,onclick:function(){send({choice:c.value});}});})));
  }else if(r.type==='image'){
    var img=h('img',{class:'qr',src:r.src,alt:r.caption||'QR',width:200,height:200,'data-testid':'qr-image',onload:function(){if(nearBottom())scrollDown();}});
    var url=safeUrl(r.url);
    kids.push(url?h('a',{class:'qr-link',href:url,target:'_blank',rel:'noopener','data-testid':'qr-link'},[img]):img);
    if(r.caption)kids.push(r.caption);
    if(url)kids.push(h('div',{class:'hint',text:t('image_hint')}));
  }else if(r.type==='link'){
    kids.push(r.text||'');
    var lu=safeUrl(r.url);
    if(lu)kids.push(h('div',null,[h('a',{class:'link-btn',href:lu,target:'_blank',rel:'noopener','data-testid':'link',text:r.label||lu})]));
  }else{kids.push(r.text===''?'\\u00a0':(r.text||''));}
  if(typeof e.cutAt==='number')kids.push(h('span',{class:'cut','data-testid':'cut-note',text:t('message_cut',{max:e.cutAt})}));
  kids.push(h('span',{class:'time',text:timeFmt.format(e.at)}));
  return h('div',{class:'bubble '+(e.from==='person'?'person':'bot'),'data-testid':'bubble','data-from':e.from,'data-type':r.type,'data-id':e.id},kids);
}
function addEntry(e){
  if(!e||typeof e.id!=='number'||seen[e.id])return;
  seen[e.id]=1;
  var empty=document.querySelector('[data-testid="empty-chat"]');if(empty)empty.remove();
  var m=$('messages'),b=bubbleFor(e),before=null;
  for(var n=m.lastElementChild;n;n=n.previousElementSibling){var id=Number(n.getAttribute('data-id'));if(!n.hasAttribute('data-id'))continue;if(id>e.id)before=n;else break;}
  if(before)m.insertBefore(b,before);else m.appendChild(b);
  scrollDown();
}
async function send(payload){
  if(!current)return;
  var who=current;
  payload.userId=who;payload.locale=CFG.locale;
  try{var r=await api('POST','/playground/api/send',payload,authFor(who));if(who===current)(r.messages||[]).forEach(addEntry);}
  catch(e){if((e.status===400||e.status===401)&&who===current){notice(t('error_person'),true);}else notice(t('error_generic'),true);}
}
// Nothing to send: an empty or whitespace-only message stays in the field and goes nowhere.
function syncSend(){$('send-button').disabled=$('message-input').value.trim()==='';}
$('message-input').addEventListener('input',syncSend);
$('composer').addEventListener('submit',function(ev){ev.preventDefault();var i=$('message-input');var text=i.value;if(text.trim()===''){i.focus();return;}i.value='';syncSend();send({text:text});i.focus();});
syncSend();

// ---------------------------------------------------------------- groups
function renderGroups(){
  var list=$('groups-list'),strip=$('strip');list.textContent='';strip.textContent='';
  if(groups.length===0){list.appendChild(h('p',{class:'hint','data-testid':'no-groups',text:t('no_groups')}));}
  groups.forEach(function(g){
    var mine=!!current&&g.members.some(function(m){return m.userId===current;});
    var badge=h('span',{class:'badge'+(mine?' in':''),'data-testid':'group-status',text:(mine?'\\u2713 ':'')+(mine?t('status_member'):t('status_not_member'))});
    var items=g.members.length?g.members.map(function(m){var me=m.userId===current;return h('li',{class:me?'me':'','data-testid':'member-row','data-user-id':m.userId},[avatar(m.userId,m.name),h('span',{class:'name',title:m.name,text:m.name+(me?' '+t('member_you'):'')})]);}):[h('li',{class:'empty',text:t('no_members')})];
    list.appendChild(h('div',{class:'card group','data-testid':'group-row','data-chat-id':g.chatId,'data-group-id':g.id,'data-member':String(mine)},[
      h('div',{class:'group-head'},[h('h3',{text:g.title}),h('span',{class:'badge','data-testid':'member-count',text:t('members_count',{count:g.members.length})})]),
      h('div',{style:'margin-bottom:8px'},[badge]),
      h('ul',{class:'members'},items)
    ]));
    strip.appendChild(h('span',{class:'badge'+(mine?' in':''),'data-testid':'membership-badge','data-chat-id':g.chatId,'data-member':String(mine),text:(mine?'\\u2713 '+t('badge_member'):t('badge_not_member'))+' \\u00b7 '+g.title,title:g.title+' \\u00b7 '+(mine?t('status_member'):t('status_not_member'))}));
  });
}

// ---------------------------------------------------------------- clock and time travel
function setClock(now,offset){if(typeof now!=='number')return;clock={server:now,local:Date.now(),offset:offset||0};tickClock();}
function tickClock(){
  var n=clock.server+(Date.now()-clock.local),c=$('clock'),text=dateFmt.format(n);
  // Phones get the short form (no year) in the header; the full date is in the tooltip and the tools card.
  c.textContent='';c.appendChild(h('span',{class:'long',text:text}));c.appendChild(h('span',{class:'short',text:timeFmt.format(n)}));c.title=t('time_now')+': '+text;
  c.setAttribute('data-now',String(n));c.setAttribute('data-offset',String(clock.offset));c.classList.toggle('shifted',clock.offset>0);
  var tn=$('tt-now');if(tn)tn.textContent=text;
  var rb=$('time-travel-reset');if(rb&&!busy)rb.disabled=!(clock.offset>0);
  var sn=$('tt-shifted');if(sn){var hrs=Math.round(clock.offset/36e5);sn.textContent=clock.offset>0?t('time_shifted',{days:Math.floor(hrs/24),hours:hrs%24}):'';}
}
setInterval(tickClock,1000);
// A jump walks through every due time on the way, so it can take a moment; the buttons wait for it.
async function jump(body,doneText){
  var msg=$('tt-msg'),btns=document.querySelectorAll('.tt button');
  msg.classList.remove('error');msg.textContent=t('time_moving');
  busy=true;btns.forEach(function(b){b.disabled=true;});
  // The chat notice goes in first, so the reminders and removals the jump causes appear below it.
  var note=current?notice(t('time_moving')):null;
  try{var r=await api('POST','/playground/api/time-travel',body);setClock(r.now,r.offsetMs);msg.textContent='';if(note)note.textContent=doneText(r);}
  catch(e){msg.textContent=t('error_generic');msg.classList.add('error');if(note)note.remove();}
  finally{busy=false;btns.forEach(function(b){b.disabled=false;});tickClock();}
}
function travel(hours){
  var msg=$('tt-msg');
  if(!Number.isInteger(hours)||hours<1||hours>8760){msg.textContent=t('time_bad_hours');msg.classList.add('error');return;}
  return jump({hours:hours},function(r){return t('time_moved',{hours:hours,now:dateFmt.format(r.now)});});
}
function resetClock(){return jump({reset:true},function(r){return t('time_reset_done',{now:dateFmt.format(r.now)});});}
if(CFG.timeTravel){
  $('time-travel-1d').addEventListener('click',function(){travel(24);});
  $('time-travel-7d').addEventListener('click',function(){travel(168);});
  $('time-travel-30d').addEventListener('click',function(){travel(720);});
  $('time-travel-reset').addEventListener('click',function(){resetClock();});
  $('tt-form').addEventListener('submit',function(ev){ev.preventDefault();travel(Number($('time-travel-hours').value));});
}

// ---------------------------------------------------------------- owner
$('owner-form').addEventListener('submit',async function(ev){
  ev.preventDefault();
  var token=$('admin-token').value.trim(),msg=$('owner-msg'),btn=$('get-claim');
  msg.textContent='';msg.classList.remove('error');$('code-box').hidden=true;
  if(!token){msg.textContent=t('owner_bad_token');msg.classList.add('error');return;}
  btn.disabled=true;
  try{var r=await api('POST','/api/owner-claims',undefined,{authorization:'Bearer '+token});$('claim-code').textContent=r.code;$('code-box').hidden=false;$('send-claim').disabled=!current;}
  catch(e){msg.textContent=e.status===401?t('owner_bad_token'):t('owner_error',{reason:e.message});msg.classList.add('error');}
  finally{btn.disabled=false;}
});
$('send-claim').addEventListener('click',function(){var code=$('claim-code').textContent;if(code&&current){send({text:code});setView('chat');}});

// ---------------------------------------------------------------- live updates
function setDown(d){down=d;$('live').classList.toggle('down',d);$('live').title=d?t('offline'):'';}
function connect(){
  if(es)es.close();
  es=new EventSource('/playground/api/events'+(current?'?userId='+encodeURIComponent(current)+'&token='+encodeURIComponent(tokenFor(current)):''));
  var who=current;
  es.addEventListener('message',function(ev){if(who!==current)return;try{addEntry(JSON.parse(ev.data));}catch(e){}});
  es.addEventListener('roster',function(ev){try{var d=JSON.parse(ev.data),g=groups.find(function(x){return x.chatId===d.chatId;});if(g){g.members=d.members;renderGroups();}else refresh();}catch(e){}});
  es.addEventListener('clock',function(ev){try{var d=JSON.parse(ev.data);setClock(d.now,d.offsetMs);}catch(e){}});
  es.addEventListener('open',function(){if(down){setDown(false);refresh();}});
  es.addEventListener('error',function(){setDown(true);});
}
async function refresh(){
  var who=current;
  try{
    var s=await api('GET','/playground/api/state'+(who?'?userId='+encodeURIComponent(who):''),undefined,who?authFor(who):undefined);
    if(who!==current)return;
    (s.history||[]).forEach(addEntry);
    if(who&&(s.history||[]).length===0&&!$('messages').firstChild)$('messages').appendChild(h('div',{class:'notice','data-testid':'empty-chat',text:t('empty_chat')}));
    groups=s.groups||[];renderGroups();setClock(s.now,s.offsetMs);
  }catch(e){
    if((e.status===400||e.status===401)&&who){forget(who);return;}
    notice(t('error_generic'),true);
  }
}

setView('chat');
renderPeople();
if(current)select(current);else{connect();refresh();}
})();
`;

export function renderPlaygroundPage(o: PageOptions): string {
  const s = (key: string) => esc(o.strings[`playground.${key}`] ?? key);
  const config = {
    locale: o.locale,
    timeZone: o.timeZone,
    dateFormat: DATE_TIME_FORMATS[o.locale] ?? DATE_TIME_FORMATS.en,
    shortDateFormat: SHORT_DATE_TIME_FORMATS[o.locale] ?? SHORT_DATE_TIME_FORMATS.en,
    timeTravel: o.timeTravel,
    maxName: o.maxName,
  };
  const timeTravel = o.timeTravel
    ? `<section class="card" data-testid="time-travel">
  <h2>${s('time_title')}</h2>
  <p>${s('time_hint')}</p>
  <div class="hint">${s('time_now')}</div>
  <div class="now" id="tt-now" data-testid="time-travel-now"></div>
  <div class="shifted-note" id="tt-shifted"></div>
  <div class="row tt" style="margin-top:10px">
    <button type="button" class="soft" id="time-travel-1d" data-testid="time-travel-1d">${s('time_plus_day')}</button>
    <button type="button" class="soft" id="time-travel-7d" data-testid="time-travel-7d">${s('time_plus_week')}</button>
    <button type="button" class="soft" id="time-travel-30d" data-testid="time-travel-30d">${s('time_plus_month')}</button>
  </div>
  <form class="row tt" id="tt-form" style="margin-top:8px">
    <input id="time-travel-hours" data-testid="time-travel-hours" type="number" min="1" max="8760" step="1" inputmode="numeric" placeholder="${s('time_custom')}" aria-label="${s('time_custom')}">
    <button type="submit" id="time-travel-go" data-testid="time-travel-go">${s('time_go')}</button>
  </form>
  <div class="row tt" id="tt-reset">
    <button type="button" class="soft" id="time-travel-reset" data-testid="time-travel-reset" disabled>${s('time_reset')}</button>
  </div>
  <div class="msg" id="tt-msg" role="status"></div>
</section>`
    : '';
  return `<!doctype html>
<html lang="${esc(o.locale)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="theme-color" content="#1d2433">
<title>${s('title')}</title>
<link rel="icon" href="${FAVICON_DATA_URL}">
<style>${CSS}</style>
</head>
<body data-view="chat">
<header class="top">
  <div class="brand"><div class="logo" aria-hidden="true">G</div><div class="brand-text"><b>${s('brand')}</b><small>${s('brand_sub')}</small></div><span class="status-dot" id="live" data-testid="live"></span></div>
  <div class="clock" id="clock" data-testid="clock" title="${s('time_now')}"></div>
  <a class="lang" href="/playground?lang=${encodeURIComponent(o.otherLocale)}" data-testid="lang-switch">${s('lang_other')}</a>
</header>
<div class="people" id="people" data-testid="people">
  <div class="people-list" id="people-list"></div>
  <form class="new-person" id="new-person" autocomplete="off">
    <input id="name-input" data-testid="name-input" name="name" maxlength="${o.maxName}" placeholder="${s('name_placeholder')}" aria-label="${s('name_label')}">
    <button type="submit" id="create-person" data-testid="create-person">${s('create')}</button>
  </form>
</div>
<nav class="tabs" role="tablist">
  <button type="button" role="tab" id="tab-chat" data-testid="tab-chat">${s('tab_chat')}</button>
  <button type="button" role="tab" id="tab-groups" data-testid="tab-groups">${s('tab_groups')}</button>
  <button type="button" role="tab" id="tab-tools" data-testid="tab-tools">${s('tab_tools')}</button>
</nav>
<main class="layout">
  <section class="view" id="view-chat" aria-label="${s('tab_chat')}">
    <div class="strip" data-testid="membership-strip"><span id="strip"></span><span class="as" id="chat-title" data-testid="chatting-as"></span></div>
    <div class="welcome" data-testid="welcome">
      <h1>${s('welcome_title')}</h1>
      <p>${s('tagline')}</p>
      <div id="welcome-slot"></div>
      <div class="msg error" id="name-msg" role="alert" data-testid="name-error"></div>
    </div>
    <div class="messages" id="messages" data-testid="messages" aria-live="polite"></div>
    <form class="composer" id="composer" autocomplete="off">
      <input id="message-input" data-testid="message-input" placeholder="${s('message_placeholder')}" aria-label="${s('message_placeholder')}" enterkeyhint="send">
      <button type="submit" id="send-button" data-testid="send-button">${s('send')}</button>
    </form>
  </section>
  <div class="side">
    <section class="view" id="view-groups" aria-label="${s('tab_groups')}">
      <div class="card">
        <h2>${s('groups_title')}</h2>
        <p>${s('groups_hint')}</p>
        <div id="groups-list" data-testid="groups"></div>
      </div>
    </section>
    <section class="view" id="view-tools" aria-label="${s('tab_tools')}">
      ${timeTravel}
      <section class="card" data-testid="owner">
        <h2>${s('owner_title')}</h2>
        <p>${s('owner_hint')}</p>
        <form class="row" id="owner-form" autocomplete="off">
          <input id="admin-token" data-testid="admin-token" type="password" placeholder="${s('owner_token')}" aria-label="${s('owner_token')}">
          <button type="submit" id="get-claim" data-testid="get-claim">${s('owner_get_code')}</button>
        </form>
        <div class="msg" id="owner-msg" role="status" data-testid="owner-msg"></div>
        <div class="code-box" id="code-box" hidden>
          <code id="claim-code" data-testid="claim-code"></code>
          <div class="hint" style="margin-bottom:8px">${s('owner_code_hint')}</div>
          <button type="button" id="send-claim" data-testid="send-claim">${s('owner_send_code')}</button>
        </div>
      </section>
      ${o.devPayments ? `<section class="card"><h2>${s('about_title')}</h2><p style="margin:0">${s('dev_note')}</p></section>` : ''}
    </section>
  </div>
</main>
<script type="application/json" id="strings">${json(o.strings)}</script>
<script type="application/json" id="config">${json(config)}</script>
<script>${SCRIPT}</script>
</body></html>`;
}
