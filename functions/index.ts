// The registry: name → function module. Routes, the scheduler and the CLI look functions up here.
import { approveReview } from './approveReview.js';
import { rejectReview } from './rejectReview.js';
import { listAudit } from './listAudit.js';
import { listReviews } from './listReviews.js';
import { pruneSessions } from './pruneSessions.js';
import type { AnyFn } from '../lib/core/fn.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { changePassword } from './changePassword.js';
import { listUsers } from './listUsers.js';
import { createUser } from './createUser.js';
import { updateUser } from './updateUser.js';
import { deleteUser } from './deleteUser.js';
import { listInvestors } from './listInvestors.js';
import { createInvestor } from './createInvestor.js';
import { getInvestor } from './getInvestor.js';
import { updateInvestor } from './updateInvestor.js';
import { deleteInvestor } from './deleteInvestor.js';
import { listContacts } from './listContacts.js';
import { createContact } from './createContact.js';
import { getContact } from './getContact.js';
import { updateContact } from './updateContact.js';
import { deleteContact } from './deleteContact.js';
import { importInvestors } from './importInvestors.js';
import { listExclusions } from './listExclusions.js';
import { createExclusion } from './createExclusion.js';
import { deleteExclusion } from './deleteExclusion.js';
import { oauthStart } from './oauthStart.js';
import { oauthCallback } from './oauthCallback.js';
import { enroll } from './enroll.js';
import { enrollAll } from './enrollAll.js';
import { listAccounts } from './listAccounts.js';
import { updateAccount } from './updateAccount.js';
import { deleteAccount } from './deleteAccount.js';
import { syncMailbox } from './syncMailbox.js';
import { syncAll } from './syncAll.js';
import { verifyAll } from './verifyAll.js';
import { verifyMailbox } from './verifyMailbox.js';
import { runNow } from './runNow.js';
import { listRuns } from './listRuns.js';
import { status } from './status.js';
import { fetchAttachment } from './fetchAttachment.js';
import { rematch } from './rematch.js';
import { rematchQueued } from './rematchQueued.js';
import { listThreads } from './listThreads.js';
import { getThread } from './getThread.js';
import { getAttachment } from './getAttachment.js';
import { searchMail } from './searchMail.js';
import { checkSetup } from './checkSetup.js';
import { readFeed } from './readFeed.js';
import { compactFeed } from './compactFeed.js';
import { createFeedToken } from './createFeedToken.js';
import { listFeedTokens } from './listFeedTokens.js';
import { deleteFeedToken } from './deleteFeedToken.js';
import { getInvestorInsights } from './getInvestorInsights.js';
import { getContactInsights } from './getContactInsights.js';
import { listGoingCold } from './listGoingCold.js';
import { getPartnerInsights } from './getPartnerInsights.js';
import { rebuildInsights } from './rebuildInsights.js';

export const functions = {
  login,
  logout,
  changePassword,
  listUsers,
  createUser,
  updateUser,
  deleteUser,
  listInvestors,
  createInvestor,
  getInvestor,
  updateInvestor,
  deleteInvestor,
  listContacts,
  createContact,
  getContact,
  updateContact,
  deleteContact,
  importInvestors,
  listExclusions,
  createExclusion,
  deleteExclusion,
  oauthStart,
  oauthCallback,
  enroll,
  enrollAll,
  listAccounts,
  updateAccount,
  deleteAccount,
  syncMailbox,
  syncAll,
  verifyMailbox,
  verifyAll,
  runNow,
  listRuns,
  status,
  fetchAttachment,
  rematch,
  rematchQueued,
  listThreads,
  getThread,
  getAttachment,
  searchMail,
  checkSetup,
  readFeed,
  compactFeed,
  createFeedToken,
  listFeedTokens,
  deleteFeedToken,
  listAudit,
  listReviews,
  approveReview,
  rejectReview,
  pruneSessions,
  getInvestorInsights,
  getContactInsights,
  listGoingCold,
  getPartnerInsights,
  rebuildInsights,
} satisfies Record<string, AnyFn>;

type FunctionName = keyof typeof functions;

/** The function registered under `name`, or undefined (never an Object.prototype member). */
export function functionNamed(name: string): AnyFn | undefined {
  return Object.hasOwn(functions, name) ? functions[name as FunctionName] : undefined;
}
