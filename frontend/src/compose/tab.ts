/** Names this tab in its saves, so the server's echo of them can be told apart. */
export const TAB_ID = `tab-${Math.random().toString(36).slice(2, 10)}-${Date.now().toString(36)}`
