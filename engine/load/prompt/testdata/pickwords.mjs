// pickwords.mjs regenerates ../words.txt, the word list the prompt
// synthesiser draws from. It is a maintenance tool, not part of the build:
// the list is checked in and embedded.
//
// Requirements (outside the repository):
//   npm install gpt-tokenizer@4.0.0 llama3-tokenizer-js@1.2.0
//   apt-get install scowl     # /usr/share/dict/scowl/english-words.{10,20}
// Run: node pickwords.mjs > ../words.txt
//
// Rule: a word qualifies when it is in SCOWL's two most common size classes
// (10 and 20), has 3 to 10 lowercase ASCII letters, is not on the blocklist
// below (word fragments, code jargon, violent or sexual words), and is ONE
// token both with and without a leading space in cl100k_base, o200k_base and
// Llama-3. The 2048 qualifying words with the lowest cl100k token id (BPE
// merges come roughly in frequency order) are kept. The script then encodes
// 200 random sequences of the chosen words in all three tokenizers and fails
// unless every sequence of n words is exactly n tokens.
import { encode as c100 } from 'gpt-tokenizer/encoding/cl100k_base'
import { encode as o200 } from 'gpt-tokenizer/encoding/o200k_base'
import llama from 'llama3-tokenizer-js'
import fs from 'fs'

const block = new Set(`
con pro inter ass bet par mod sex err nil beg quest differ deter dim pat rout pun gay sexual sexy
drug drugs murder kill killed killing terror violence gun guns weapons weapon abuse assault
criminal crime prison victim die dies died death dead cancer attack attacks dating hate god
religious crush pie sin organ cult opt opts elect dig pot cam pub mist thous rot temper advert
advent orient hum ear mill govern employ cent sup null void char int bool enum struct const func
var def args param params println printf async await extends implements override assert throw
throws undefined nan boolean impl elif endif dict str len src dst tmp cmd idx obj arr msg btn nav
img div api url http html css json xml sql php ssh usr lib bin exe dll config init eval exec regex
ptr stdin stdout stderr localhost utf www com org net gov edu jpg png gif pdf doc docx etc inc ltd
dept mrs jew jews muslim christian bomb bombs shooting shoot shooter suicide rape slave slaves nazi
penis breast breasts porn nude naked fuck shit damn hell bitch dick cock pussy butt sexually racist
racism torture dying deaths corpse blood bloody explosive explosives bullet bullets knife enemy
enemies war wars hostile hostage kidnapping trafficking overdose disease diseases injury injuries
wound wounded killer killers fatal fatalities arrest arrested jail prisoner prisoners
`.split(/\s+/).filter(Boolean))

const one = (w) =>
  c100(w).length === 1 && o200(w).length === 1 &&
  llama.encode(w, { bos: false, eos: false }).length === 1

const dict = ['10', '20']
  .map((n) => fs.readFileSync(`/usr/share/dict/scowl/english-words.${n}`, 'latin1'))
  .join('\n').split('\n').filter((w) => /^[a-z]{3,10}$/.test(w) && !block.has(w))

const picked = [...new Set(dict)]
  .filter((w) => one(' ' + w) && one(w))
  .map((w) => [c100(' ' + w)[0], w])
  .sort((x, y) => x[0] - y[0])
  .slice(0, 2048)
  .map((x) => x[1])
if (picked.length !== 2048) throw new Error(`only ${picked.length} words qualify`)

for (let trial = 0; trial < 200; trial++) {
  const n = 1 + Math.floor(Math.random() * 400)
  const s = Array.from({ length: n }, () => picked[Math.floor(Math.random() * picked.length)]).join(' ')
  const got = [c100(s).length, o200(s).length, llama.encode(s, { bos: false, eos: false }).length]
  if (got.some((g) => g !== n)) throw new Error(`${n} words gave ${got} tokens: ${s}`)
}
process.stdout.write(picked.join('\n') + '\n')
