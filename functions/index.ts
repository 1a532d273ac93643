// The registry: name → function module. Routes, the scheduler and the CLI look functions up here.
import { approveReview } from './approveReview.js';
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

export const functions: Record<string, AnyFn> = {
  login: login as AnyFn,
  logout: logout as AnyFn,
  changePassword: changePassword as AnyFn,
  listUsers: listUsers as AnyFn,
  createUser: createUser as AnyFn,
  updateUser: updateUser as AnyFn,
  deleteUser: deleteUser as AnyFn,
  listInvestors: listInvestors as AnyFn,
  createInvestor: createInvestor as AnyFn,
  getInvestor: getInvestor as AnyFn,
  updateInvestor: updateInvestor as AnyFn,
  deleteInvestor: deleteInvestor as AnyFn,
  listContacts: listContacts as AnyFn,
  createContact: createContact as AnyFn,
  getContact: getContact as AnyFn,
  updateContact: updateContact as AnyFn,
  deleteContact: deleteContact as AnyFn,
  importInvestors: importInvestors as AnyFn,
  listExclusions: listExclusions as AnyFn,
  createExclusion: createExclusion as AnyFn,
  deleteExclusion: deleteExclusion as AnyFn,
  oauthStart: oauthStart as AnyFn,
  oauthCallback: oauthCallback as AnyFn,
  enroll: enroll as AnyFn,
  enrollAll: enrollAll as AnyFn,
  listAccounts: listAccounts as AnyFn,
  updateAccount: updateAccount as AnyFn,
  deleteAccount: deleteAccount as AnyFn,
  syncMailbox: syncMailbox as AnyFn,
  syncAll: syncAll as AnyFn,
  verifyMailbox: verifyMailbox as AnyFn,
  verifyAll: verifyAll as AnyFn,
  runNow: runNow as AnyFn,
  listRuns: listRuns as AnyFn,
  status: status as AnyFn,
  fetchAttachment: fetchAttachment as AnyFn,
  rematch: rematch as AnyFn,
  rematchQueued: rematchQueued as AnyFn,
  listThreads: listThreads as AnyFn,
  getThread: getThread as AnyFn,
  getAttachment: getAttachment as AnyFn,
  searchMail: searchMail as AnyFn,
  checkSetup: checkSetup as AnyFn,
  readFeed: readFeed as AnyFn,
  compactFeed: compactFeed as AnyFn,
  createFeedToken: createFeedToken as AnyFn,
  listFeedTokens: listFeedTokens as AnyFn,
  deleteFeedToken: deleteFeedToken as AnyFn,
  listAudit: listAudit as AnyFn,
  listReviews: listReviews as AnyFn,
  approveReview: approveReview as AnyFn,
  pruneSessions: pruneSessions as AnyFn,
  getInvestorInsights: getInvestorInsights as AnyFn,
  getContactInsights: getContactInsights as AnyFn,
  listGoingCold: listGoingCold as AnyFn,
  getPartnerInsights: getPartnerInsights as AnyFn,
  rebuildInsights: rebuildInsights as AnyFn,
};
