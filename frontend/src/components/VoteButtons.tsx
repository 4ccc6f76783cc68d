import { useState } from 'react'
import { gallery, type VoteResult } from '../api/gallery'
import { navigate, signInPath } from '../routes'

interface Props {
  shareId: string
  score: number
  myVote: 1 | -1 | null
  /** Why this reader cannot vote, if they cannot. */
  blocked: 'signIn' | 'own' | 'unlisted' | null
}

/** ▲ score ▼: a click votes, a second click on the same arrow takes the vote back. */
export function VoteButtons({ shareId, score: initialScore, myVote: initialVote, blocked }: Props) {
  const [state, setState] = useState<Pick<VoteResult, 'score' | 'my_vote'>>({ score: initialScore, my_vote: initialVote })
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)

  const vote = async (value: 1 | -1) => {
    if (blocked === 'signIn') {
      navigate(signInPath())
      return
    }
    setBusy(true)
    setMessage(null)
    try {
      const result = await gallery.vote(shareId, state.my_vote === value ? 0 : value)
      setState(result)
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'The vote did not go through.')
    } finally {
      setBusy(false)
    }
  }

  const why =
    blocked === 'own' ? 'Your own piece' : blocked === 'unlisted' ? 'Only pieces in the gallery take votes' : undefined
  const disabled = busy || blocked === 'own' || blocked === 'unlisted'
  return (
    <div className="votes" data-testid="votes" title={why}>
      <button
        type="button"
        className="vote"
        data-testid="vote-up"
        aria-label="Vote up"
        aria-pressed={state.my_vote === 1}
        disabled={disabled}
        onClick={() => vote(1)}
      >
        ▲
      </button>
      <span className="score" data-testid="vote-score" aria-label={`Score ${state.score}`}>
        {state.score}
      </span>
      <button
        type="button"
        className="vote"
        data-testid="vote-down"
        aria-label="Vote down"
        aria-pressed={state.my_vote === -1}
        disabled={disabled}
        onClick={() => vote(-1)}
      >
        ▼
      </button>
      {message && (
        <span role="alert" className="vote-message">
          {message}
        </span>
      )}
    </div>
  )
}
