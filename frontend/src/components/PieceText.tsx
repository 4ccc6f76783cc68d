import type { Span } from '../api/spans'
import { fromBody } from '../drafts/body'
import type { Paragraph } from '../editor/schema'

/** A published text, one paragraph per line, the model's words marked like in the editor. */
export function PieceText({ body, spans }: { body: string; spans: Span[] }) {
  return (
    <>
      {fromBody(body, spans).map((node, i) => {
        const runs = (node as Paragraph).children
        if (runs.every((r) => !r.text)) return <br key={i} />
        return (
          <p key={i}>
            {runs.map((r, j) =>
              r.suggested ? (
                <span key={j} className="accepted" data-model={r.model} title={r.model ? `Written by ${r.model}` : 'Written by a model'}>
                  {r.text}
                </span>
              ) : (
                r.text
              ),
            )}
          </p>
        )
      })}
    </>
  )
}
