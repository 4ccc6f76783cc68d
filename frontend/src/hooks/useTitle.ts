import { useEffect } from 'react'

/** The tab's title for this page ("Gallery · writeup"); the server writes the same one for crawlers. */
export function useTitle(title: string | null): void {
  useEffect(() => {
    if (title !== null) document.title = title ? `${title} · writeup` : 'writeup'
  }, [title])
}
